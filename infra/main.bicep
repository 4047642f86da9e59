// photo-sync in Azure: one resource group with a Flex Consumption function app, its storage
// account (HR drop container, outcome table, deployment container), a user-assigned identity,
// Application Insights on Log Analytics, the storage account's Event Grid system topic, (only
// for the app-registration sign-in modes, or to keep the webhook URL of notices to HR) a Key
// Vault, and (only with privateNetwork) a virtual network with the storage account's private
// endpoints.
//
// `azd up` deploys this template, then the code, then runs infra/hooks/postdeploy, which grants
// the Microsoft Graph app roles and creates the Event Grid subscriptions (they need the deployed
// code): BlobCreated to the blob trigger, and only with deleteProfilePhotoOnBlobDelete,
// BlobDeleted to the photo_deleted function. Without azd: `az deployment sub create` with this
// file, a code deployment, and the same hook script; see docs/deploy.md.
//
// Every resource is a plain `resource` block in a local module, so the template is scanned in
// full by policy checkers; nothing comes from a registry.

targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('Name of the environment (azd environment name); it seeds every resource name.')
param environmentName string

@minLength(1)
@description('Region of every resource; it must offer the Flex Consumption plan.')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Resource group to create or reuse (empty: rg-<environmentName>).')
param resourceGroupName string = ''

// --- photo API and sign-in ------------------------------------------------------------------------

@description('Photo API dialect: Microsoft Graph (default) or the retired Outlook REST v2.0 shape.')
@allowed([
  'graph'
  'outlook'
])
param photoApiDialect string = 'graph'

@description('National cloud of the photo API (empty: the cloud this deployment runs in).')
@allowed([
  ''
  'public'
  'usgov'
  'china'
])
param photoCloud string = ''

@description('How the app signs in to the photo API. managed_identity needs no secret at all; the other two use an app registration whose credential is kept in Key Vault.')
@allowed([
  'managed_identity'
  'client_secret'
  'certificate'
])
param photoAuthMode string = 'managed_identity'

@description('Client id of the app registration (client_secret and certificate modes only).')
param photoAppClientId string = ''

@description('Entra tenant of the photo API (empty: this subscription\'s tenant).')
param photoTenantId string = ''

@description('Accept bare employee ids as blob names; also grants User.Read.All.')
param photoEmployeeIdMode bool = false

@description('Accept bare aliases as blob names and append this domain (empty: off).')
param photoDefaultDomain string = ''

@description('HR id mapping CSV as <container>/<path> in the storage account (empty: off). Exclusive with photoEmployeeIdMode and photoDefaultDomain.')
param photoIdMappingBlob string = ''

@description('NCRONTAB schedule (UTC) of the nightly reconcile (drops Event Grid never delivered).')
param reconcileSchedule string = '0 0 2 * * *'

@description('What happens to a drop after a successful upload.')
@allowed([
  'keep'
  'delete'
  'move'
])
param photoProcessedAction string = 'keep'

@description('What happens to a rejected drop.')
@allowed([
  'keep'
  'move'
])
param photoRejectedAction string = 'keep'

@description('When HR deletes the drop a user\'s current photo came from, delete the profile photo too: sets PHOTO_DELETE_ON_BLOB_DELETE and subscribes the photo_deleted function to BlobDeleted events of the drop container. Off by default; needs photoProcessedAction and photoRejectedAction keep.')
param deleteProfilePhotoOnBlobDelete bool = false

@description('More app settings for the function app, as a JSON object (image or retry tuning, e.g. {"PHOTO_MAX_SIDE": "648"}; empty: none). Set them here, not in the portal: a provision rewrites all app settings. A JSON string rather than an object so that `azd env set` can carry it with any azd version.')
param extraAppSettings string = ''

// --- notices to HR (optional) -------------------------------------------------------------------

@secure()
@description('Webhook that notices to HR and the daily digest are posted to: a Teams workflow URL ("When a Teams webhook request is received"), or any https endpoint. Kept in Key Vault; the app setting is a Key Vault reference. Empty: no notices, and the notice timers are disabled.')
param notifyWebhookUrl string = ''

@description('Notice format: an Adaptive Card for a Teams workflow webhook, or the plain JSON document (docs/notifications.md).')
@allowed([
  'teams'
  'json'
])
param notifyFormat string = 'teams'

@description('NCRONTAB schedule (UTC) of the notice timer (PHOTO_NOTIFY_SCHEDULE). Set it here, not in extraAppSettings, which cannot override it.')
param notifySchedule string = '0 * * * * *'

@description('NCRONTAB schedule (UTC) of the daily digest (PHOTO_NOTIFY_DIGEST_SCHEDULE). Set it here, not in extraAppSettings, which cannot override it.')
param notifyDigestSchedule string = '0 0 7 * * *'

// --- scale ---------------------------------------------------------------------------------------

@description('Upper bound on function app instances, per function group (the blob trigger\'s group is the one that calls the photo API). The photo API throttles per app; see docs/deploy.md for the reasoning.')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 40

@description('Memory per instance in MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Storage replication (Standard_ZRS needs a region with availability zones).')
@allowed([
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GRS'
  'Standard_GZRS'
  'Standard_RAGRS'
  'Standard_RAGZRS'
])
param storageSku string = 'Standard_ZRS'

// --- optional Entra ID on the lookup endpoint ---------------------------------------------------

@description('Require an Entra ID token for the lookup endpoint, on top of its function key (the key stays required either way; see docs/deploy.md).')
param enableLookupAuth bool = false

@description('Client id of the app registration that represents the lookup API.')
param lookupAuthClientId string = ''

@description('Client ids of the applications allowed to call the lookup API, comma-separated (empty: any holder of a token for it).')
param lookupAuthAllowedApplications string = ''

// --- network -------------------------------------------------------------------------------------

@description('Private network: a virtual network with the app\'s outbound integration and private endpoints for the storage account, whose public endpoint is then closed (or open only to hrAllowedIpRanges). The app\'s own endpoint stays public for Event Grid\'s webhook. See docs/deploy.md.')
param privateNetwork bool = false

@description('Private network only: public IPv4 addresses or CIDR ranges, comma-separated, from which HR uploads to the drop container (empty: none; HR then needs a private endpoint of its own).')
param hrAllowedIpRanges string = ''

@description('Private network only: address space of the virtual network.')
param vnetAddressPrefix string = '10.0.0.0/16'

@description('Private network only: address range of the app\'s integration subnet, inside vnetAddressPrefix.')
param appSubnetPrefix string = '10.0.2.0/24'

@description('Private network only: address range of the private endpoints\' subnet, inside vnetAddressPrefix.')
param privateEndpointSubnetPrefix string = '10.0.1.0/24'

// --- Key Vault name ------------------------------------------------------------------------------

@description('Name of the Key Vault (app-registration modes only; empty: derived from the app identity, so that a deployment re-created after `azd down` gets a new name while the old vault sits out its purge protection). Set it only to keep a vault made by an earlier version of this template.')
@maxLength(24)
param keyVaultName string = ''

// --- people --------------------------------------------------------------------------------------

@description('Object id of whoever runs the deployment; azd fills it in. Used only to let them put the credential into Key Vault.')
param deployerPrincipalId string = ''

@description('Object id of the user, group or service principal that uploads HR photos (empty: grant it later).')
param hrUploaderPrincipalId string = ''

@allowed([
  'User'
  'Group'
  'ServicePrincipal'
])
param hrUploaderPrincipalType string = 'Group'

@description('Object id of a user or group allowed to read drops and the outcome table (empty: none).')
param operatorPrincipalId string = ''

@allowed([
  'User'
  'Group'
  'ServicePrincipal'
])
param operatorPrincipalType string = 'Group'

// --- names ---------------------------------------------------------------------------------------

var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
  application: 'photo-sync'
}

// The storage names the function app's code expects by default (PHOTO_DROP_CONTAINER and
// friends); the app settings below pass them explicitly anyway.
var dropContainerName = 'hr-photos'
var rejectedContainerName = 'hr-photos-rejected'
var processedContainerName = 'hr-photos-processed'
var deadLetterContainerName = 'hr-photos-deadletter'
var deploymentContainerName = 'app-package'
var stateTableName = 'photosyncstate'

var usesAppRegistration = photoAuthMode != 'managed_identity'

// The vault's name follows the identity, which `azd down` deletes and `azd up` creates anew with
// a new principal id: a re-created deployment gets a vault of its own instead of colliding with
// the soft-deleted one, whose name purge protection keeps reserved for 90 days. Re-provisioning
// keeps the identity and so the name.
var effectiveKeyVaultName = empty(keyVaultName) ? 'kv-photo-${uniqueString(resourceToken, identity.outputs.principalId)}' : keyVaultName

// The vault holds the app registration's credential, the notice webhook URL, or both.
var notifies = !empty(notifyWebhookUrl)
var usesKeyVault = usesAppRegistration || notifies
var notifySecretName = 'photo-notify-webhook-url'

// HR's upload addresses, as the storage firewall's IP rules (private network only).
var hrIpRanges = empty(hrAllowedIpRanges) ? [] : split(replace(hrAllowedIpRanges, ' ', ''), ',')
var storagePublicNetworkAccess = (privateNetwork && empty(hrAllowedIpRanges)) ? 'Disabled' : 'Enabled'
var storageNetworkDefaultAction = privateNetwork ? 'Deny' : 'Allow'

var credentialSecretName = (photoAuthMode == 'certificate') ? 'photo-client-certificate' : 'photo-client-secret'

// Follow the cloud the deployment runs in unless told otherwise.
var cloudOfDeployment = (environment().name == 'AzureUSGovernment') ? 'usgov' : ((environment().name == 'AzureChinaCloud') ? 'china' : 'public')
// Spelled out so the type is exactly the module's allowed values: `empty(photoCloud) ?
// cloudOfDeployment : photoCloud` would still carry '' in its type, which Bicep refuses (BCP036).
var effectivePhotoCloud = (photoCloud == 'usgov') ? 'usgov' : ((photoCloud == 'china') ? 'china' : ((photoCloud == 'public') ? 'public' : cloudOfDeployment))
var effectivePhotoTenantId = empty(photoTenantId) ? tenant().tenantId : photoTenantId

// The Graph application permissions the postdeploy hook grants: the least that sets photos,
// plus User.Read.All to look users up by employee id.
var graphAppRoles = (photoApiDialect == 'graph') ? (photoEmployeeIdMode ? 'ProfilePhoto.ReadWrite.All User.Read.All' : 'ProfilePhoto.ReadWrite.All') : ''
// Every Graph app role the hook may grant; those of them not in graphAppRoles are revoked.
var graphManagedAppRoles = 'ProfilePhoto.ReadWrite.All User.Read.All'

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: empty(resourceGroupName) ? 'rg-${environmentName}' : resourceGroupName
  location: location
  tags: tags
}

module identity 'modules/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: 'id-photosync-${resourceToken}'
    location: location
    tags: tags
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: 'log-photosync-${resourceToken}'
    applicationInsightsName: 'appi-photosync-${resourceToken}'
    location: location
    tags: tags
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: 'stphoto${resourceToken}'
    location: location
    tags: tags
    skuName: storageSku
    dropContainerName: dropContainerName
    rejectedContainerName: rejectedContainerName
    processedContainerName: processedContainerName
    deadLetterContainerName: deadLetterContainerName
    deploymentContainerName: deploymentContainerName
    stateTableName: stateTableName
    logAnalyticsWorkspaceId: monitoring.outputs.workspaceId
    publicNetworkAccess: storagePublicNetworkAccess
    networkDefaultAction: storageNetworkDefaultAction
    allowedIpRanges: privateNetwork ? hrIpRanges : []
  }
}

module network 'modules/network.bicep' = if (privateNetwork) {
  name: 'network'
  scope: rg
  params: {
    name: 'vnet-photosync-${resourceToken}'
    networkSecurityGroupName: 'nsg-photosync-${resourceToken}'
    location: location
    tags: tags
    addressPrefix: vnetAddressPrefix
    appSubnetPrefix: appSubnetPrefix
    privateEndpointSubnetPrefix: privateEndpointSubnetPrefix
  }
}

module privateEndpoints 'modules/private-endpoints.bicep' = if (privateNetwork) {
  name: 'private-endpoints'
  scope: rg
  params: {
    storageAccountName: storage.outputs.name
    virtualNetworkId: network.outputs.id
    subnetId: network.outputs.privateEndpointSubnetId
    location: location
    tags: tags
  }
}

module keyVault 'modules/keyvault.bicep' = if (usesKeyVault) {
  name: 'keyvault'
  scope: rg
  params: {
    name: effectiveKeyVaultName
    location: location
    tags: tags
    logAnalyticsWorkspaceId: monitoring.outputs.workspaceId
  }
}

module eventGrid 'modules/eventgrid.bicep' = {
  name: 'eventgrid'
  scope: rg
  params: {
    name: 'evgt-photosync-${resourceToken}'
    location: location
    tags: tags
    storageAccountId: storage.outputs.id
  }
}

module rbac 'modules/rbac.bicep' = {
  name: 'rbac'
  scope: rg
  params: {
    storageAccountName: storage.outputs.name
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    appPrincipalId: identity.outputs.principalId
    eventGridPrincipalId: eventGrid.outputs.principalId
    dropContainerName: dropContainerName
    deadLetterContainerName: deadLetterContainerName
    rejectedContainerName: rejectedContainerName
    processedContainerName: processedContainerName
    stateTableName: stateTableName
    keyVaultName: usesKeyVault ? effectiveKeyVaultName : ''
    keyVaultCredentialKind: (photoAuthMode == 'certificate') ? 'certificate' : 'client_secret'
    deployerPrincipalId: deployerPrincipalId
    hrUploaderPrincipalId: hrUploaderPrincipalId
    hrUploaderPrincipalType: hrUploaderPrincipalType
    operatorPrincipalId: operatorPrincipalId
    operatorPrincipalType: operatorPrincipalType
  }
  dependsOn: [
    keyVault
  ]
}

module notifySecret 'modules/notify-secret.bicep' = if (notifies) {
  name: 'notify-secret'
  scope: rg
  params: {
    vaultName: effectiveKeyVaultName
    secretName: notifySecretName
    value: notifyWebhookUrl
  }
  dependsOn: [
    keyVault
  ]
}

module functionApp 'modules/function-app.bicep' = {
  name: 'function-app'
  scope: rg
  params: {
    name: 'func-photosync-${resourceToken}'
    planName: 'plan-photosync-${resourceToken}'
    location: location
    tags: tags
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageBlobEndpoint: storage.outputs.blobEndpoint
    storageQueueEndpoint: storage.outputs.queueEndpoint
    storageTableEndpoint: storage.outputs.tableEndpoint
    deploymentContainerName: deploymentContainerName
    applicationInsightsConnectionString: monitoring.outputs.connectionString
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    dropContainerName: dropContainerName
    rejectedContainerName: rejectedContainerName
    processedContainerName: processedContainerName
    stateTableName: stateTableName
    processedAction: photoProcessedAction
    rejectedAction: photoRejectedAction
    deleteProfilePhotoOnBlobDelete: deleteProfilePhotoOnBlobDelete
    photoApiDialect: photoApiDialect
    photoCloud: effectivePhotoCloud
    photoAuthMode: photoAuthMode
    photoTenantId: effectivePhotoTenantId
    photoAppClientId: photoAppClientId
    photoEmployeeIdMode: photoEmployeeIdMode
    photoDefaultDomain: photoDefaultDomain
    reconcileSchedule: reconcileSchedule
    photoIdMappingBlob: photoIdMappingBlob
    keyVaultName: usesKeyVault ? effectiveKeyVaultName : ''
    credentialSecretName: usesAppRegistration ? credentialSecretName : ''
    notifyWebhookSecretName: notifies ? notifySecretName : ''
    notifyFormat: notifyFormat
    notifySchedule: notifySchedule
    notifyDigestSchedule: notifyDigestSchedule
    extraAppSettings: empty(extraAppSettings) ? {} : json(extraAppSettings)
    enableLookupAuth: enableLookupAuth
    lookupAuthClientId: lookupAuthClientId
    lookupAuthAllowedApplications: empty(lookupAuthAllowedApplications) ? [] : split(replace(lookupAuthAllowedApplications, ' ', ''), ',')
    virtualNetworkSubnetId: privateNetwork ? network.outputs.appSubnetId : ''
  }
  // The host starts as soon as the app exists; give it its storage roles (and the secret its
  // settings refer to) first, and with the private network its way to the storage account.
  dependsOn: [
    rbac
    privateEndpoints
    notifySecret
  ]
}

// --- outputs (azd stores them in the environment; the hooks and docs/deploy.md use them) --

output AZURE_LOCATION string = location
// The hooks select this subscription and check az's tenant against this one before any call.
output AZURE_SUBSCRIPTION_ID string = subscription().subscriptionId
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output AZURE_FUNCTION_APP_URL string = functionApp.outputs.url
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output AZURE_KEY_VAULT_NAME string = usesAppRegistration ? effectiveKeyVaultName : ''
output AZURE_KEY_VAULT_SECRET_NAME string = usesAppRegistration ? credentialSecretName : ''
output APPLICATIONINSIGHTS_NAME string = monitoring.outputs.applicationInsightsName
output LOG_ANALYTICS_WORKSPACE_NAME string = monitoring.outputs.workspaceName
output EVENTGRID_SYSTEM_TOPIC_NAME string = eventGrid.outputs.name
output PHOTO_PRIVATE_NETWORK string = privateNetwork ? 'true' : 'false'
output AZURE_VNET_NAME string = privateNetwork ? network.outputs.name : ''

// For the postdeploy hook: whether to subscribe photo_deleted to BlobDeleted events, and the drop
// dispositions it checks first (deletion sync needs both at keep, or photo-sync's own deletes and
// moves would delete profile photos).
output PHOTO_DELETE_ON_BLOB_DELETE string = deleteProfilePhotoOnBlobDelete ? 'true' : 'false'
output PHOTO_PROCESSED_ACTION string = photoProcessedAction
output PHOTO_REJECTED_ACTION string = photoRejectedAction

// Where HR puts photos, and where rejected and undeliverable ones end up.
output PHOTO_DROP_CONTAINER string = dropContainerName
output PHOTO_DROP_CONTAINER_URL string = storage.outputs.dropContainerUrl
output PHOTO_REJECTED_CONTAINER string = rejectedContainerName
output PHOTO_DEADLETTER_CONTAINER string = deadLetterContainerName
output PHOTO_STATE_TABLE string = stateTableName

// The lookup endpoint (function key required; add ?code=<key> or the x-functions-key header).
output PHOTO_LOOKUP_URL string = '${functionApp.outputs.url}/api/users/{user}/photo'
output PHOTO_HEALTH_URL string = '${functionApp.outputs.url}/api/health'

output PHOTO_IDENTITY_CLIENT_ID string = identity.outputs.clientId
output PHOTO_IDENTITY_PRINCIPAL_ID string = identity.outputs.principalId

// For infra/hooks/grant-graph-roles: which Graph app roles, granted to whom.
output PHOTO_GRAPH_APP_ROLES string = graphAppRoles
output PHOTO_GRAPH_MANAGED_ROLES string = graphManagedAppRoles
// The tenant the roles are granted in: the photo API's (an app registration may live elsewhere).
output PHOTO_GRAPH_TENANT_ID string = effectivePhotoTenantId
output PHOTO_GRAPH_GRANTEE_PRINCIPAL_ID string = usesAppRegistration ? '' : identity.outputs.principalId
output PHOTO_GRAPH_GRANTEE_APP_ID string = usesAppRegistration ? photoAppClientId : ''
