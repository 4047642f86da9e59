// Every Azure role photo-sync's deployment grants, in one place.
//
// Only data-plane roles, each at the narrowest scope that works:
//   app identity      Storage Blob Data Owner        storage account   host storage (containers, leases,
//                                                                      keys, receipts), the Flex package,
//                                                                      and blob index tags on drops (tags
//                                                                      need Owner; the blob trigger's
//                                                                      receipts use them too)
//                     Storage Queue Data Contributor storage account   the blob trigger's queue and its
//                                                                      poison queue
//                     Storage Table Data Contributor storage account   the outcome table
//                     Monitoring Metrics Publisher   App Insights      telemetry with local auth off
//                     Key Vault Secrets User         Key Vault         only in the app-registration modes
//   Event Grid topic  Storage Blob Data Contributor  dead-letter container only
//   deployer          Key Vault Secrets / Certificates Officer (only with a vault, to put the credential in)
//   HR uploader       Storage Blob Data Contributor  drop container only (optional)
//   operators         Storage Blob Data Reader       the four photo containers (drops, rejected,
//                                                                      processed, dead letters), each on its own
//                     Storage Table Data Reader      the outcome table only (optional, to read outcomes;
//                                                                      not the app package, the host's
//                                                                      containers and tables, or its keys)
// Names are guid(scope, principal, role), so a re-deployment finds the same assignment instead
// of failing on a duplicate; principalType lets ARM skip the directory lookup that fails while
// a new identity is still replicating (not set for the deployer, who may be a user or a pipeline).

@description('Name of the storage account.')
param storageAccountName string

@description('Name of the Application Insights component.')
param applicationInsightsName string

@description('Principal id of the app\'s user-assigned identity.')
param appPrincipalId string

@description('Principal id of the Event Grid system topic\'s identity.')
param eventGridPrincipalId string

@description('Container HR drops photos into.')
param dropContainerName string

@description('Container Event Grid writes dead letters to.')
param deadLetterContainerName string

@description('Container rejected drops are moved to.')
param rejectedContainerName string

@description('Container uploaded drops are moved to.')
param processedContainerName string

@description('Table holding the last outcome per user.')
param stateTableName string

@description('Key Vault of the app-registration modes (empty: no vault).')
param keyVaultName string = ''

@description('Which credential the deployer puts into the vault.')
@allowed([
  'client_secret'
  'certificate'
])
param keyVaultCredentialKind string = 'client_secret'

@description('Object id of the person or pipeline running the deployment (empty: no grant).')
param deployerPrincipalId string = ''

@description('Object id of the user, group or service principal that uploads HR photos (empty: no grant).')
param hrUploaderPrincipalId string = ''

@allowed([
  'User'
  'Group'
  'ServicePrincipal'
])
param hrUploaderPrincipalType string = 'Group'

@description('Object id of a user or group allowed to read drops and outcomes (empty: no grant).')
param operatorPrincipalId string = ''

@allowed([
  'User'
  'Group'
  'ServicePrincipal'
])
param operatorPrincipalType string = 'Group'

var roleIds = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
  storageBlobDataReader: '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  storageTableDataReader: '76199698-9eea-4c19-bc75-cec21354c6b6'
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6'
  keyVaultSecretsOfficer: 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'
  keyVaultCertificatesOfficer: 'a4417e6f-fecd-4de8-b567-7b0420556985'
}

var hasKeyVault = !empty(keyVaultName)
var deployerVaultRole = (keyVaultCredentialKind == 'certificate') ? roleIds.keyVaultCertificatesOfficer : roleIds.keyVaultSecretsOfficer

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' existing = {
  parent: storage
  name: 'default'
}

resource dropContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' existing = {
  parent: blobService
  name: dropContainerName
}

resource deadLetterContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' existing = {
  parent: blobService
  name: deadLetterContainerName
}

// What operators may read: the photo containers and the outcome table, nothing else.
var photoContainerNames = [
  dropContainerName
  rejectedContainerName
  processedContainerName
  deadLetterContainerName
]

resource photoContainers 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' existing = [for container in photoContainerNames: {
  parent: blobService
  name: container
}]

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' existing = {
  parent: storage
  name: 'default'
}

resource stateTable 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' existing = {
  parent: tableService
  name: stateTableName
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

// Only an id is taken from it (no read), so a placeholder name is harmless when there is no vault.
resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: hasKeyVault ? keyVaultName : 'no-vault'
}

// --- the app's identity -------------------------------------------------------------------------

resource appBlobOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, appPrincipalId, roleIds.storageBlobDataOwner)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageBlobDataOwner)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    description: 'photo-sync: host storage, deployment package, drops and their index tags'
  }
}

resource appQueueContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, appPrincipalId, roleIds.storageQueueDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageQueueDataContributor)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    description: 'photo-sync: blob trigger queue and poison queue'
  }
}

resource appTableContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, appPrincipalId, roleIds.storageTableDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageTableDataContributor)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    description: 'photo-sync: outcome table'
  }
}

resource appMetricsPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(appInsights.id, appPrincipalId, roleIds.monitoringMetricsPublisher)
  scope: appInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.monitoringMetricsPublisher)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    description: 'photo-sync: telemetry with local auth disabled'
  }
}

resource appVaultSecretsUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (hasKeyVault) {
  name: guid(vault.id, appPrincipalId, roleIds.keyVaultSecretsUser)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.keyVaultSecretsUser)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    description: 'photo-sync: resolve the app registration credential reference'
  }
}

// --- Event Grid's dead-lettering --------------------------------------------------------------

resource eventGridDeadLetterWriter 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(deadLetterContainer.id, eventGridPrincipalId, roleIds.storageBlobDataContributor)
  scope: deadLetterContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageBlobDataContributor)
    principalId: eventGridPrincipalId
    principalType: 'ServicePrincipal'
    description: 'photo-sync: Event Grid writes undeliverable drop events here'
  }
}

// --- people and pipelines (optional) ----------------------------------------------------------

resource deployerVaultOfficer 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (hasKeyVault && !empty(deployerPrincipalId)) {
  name: guid(vault.id, deployerPrincipalId, deployerVaultRole)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', deployerVaultRole)
    principalId: deployerPrincipalId
    // No principalType: azd signs in as a user or as a pipeline's service principal and does
    // not say which; the deployer already exists, so ARM's own lookup finds the right type.
    description: 'photo-sync: put the app registration credential into the vault'
  }
}

resource hrUploader 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(hrUploaderPrincipalId)) {
  name: guid(dropContainer.id, hrUploaderPrincipalId, roleIds.storageBlobDataContributor)
  scope: dropContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageBlobDataContributor)
    principalId: hrUploaderPrincipalId
    principalType: hrUploaderPrincipalType
    description: 'photo-sync: HR uploads photos to the drop container'
  }
}

// Container and table scopes: Azure Storage's data roles can be assigned to a single container
// (.../blobServices/default/containers/<name>) or a single table
// (.../tableServices/default/tables/<name>), below the account (Azure Storage docs on authorizing
// blob and table access with Microsoft Entra ID, "resource scope").
resource operatorBlobReaders 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for (container, i) in photoContainerNames: if (!empty(operatorPrincipalId)) {
  name: guid(photoContainers[i].id, operatorPrincipalId, roleIds.storageBlobDataReader)
  scope: photoContainers[i]
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageBlobDataReader)
    principalId: operatorPrincipalId
    principalType: operatorPrincipalType
    description: 'photo-sync: read ${container} (drops, rejections, processed drops or dead letters)'
  }
}]

resource operatorTableReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(operatorPrincipalId)) {
  name: guid(stateTable.id, operatorPrincipalId, roleIds.storageTableDataReader)
  scope: stateTable
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageTableDataReader)
    principalId: operatorPrincipalId
    principalType: operatorPrincipalType
    description: 'photo-sync: read the outcome table'
  }
}
