// The photo-sync function app on the Flex Consumption plan (FC1, Linux, Python).
//
// Flex Consumption replaces the runtime and deployment app settings of the older plans with
// functionAppConfig: the runtime, the scale limits and the deployment container (read with the
// managed identity) live there, and FUNCTIONS_WORKER_RUNTIME, WEBSITE_RUN_FROM_PACKAGE and the
// content-share settings must not be set. Every connection in the app settings is identity-based:
// the settings hold endpoints and the identity's client id, never a key, SAS or secret.

@description('Name of the function app.')
param name string

@description('Name of the Flex Consumption plan (one app per plan).')
param planName string

@description('Azure region of the plan and the app.')
param location string

@description('Tags applied to the plan and the app.')
param tags object = {}

@description('Resource id of the user-assigned identity the app runs as.')
param identityId string

@description('Client id of that identity.')
param identityClientId string

@description('Blob endpoint of the storage account (host data, photo containers, deployment container).')
param storageBlobEndpoint string

@description('Queue endpoint of the storage account.')
param storageQueueEndpoint string

@description('Table endpoint of the storage account.')
param storageTableEndpoint string

@description('Container the app package is deployed to.')
param deploymentContainerName string

@description('Application Insights connection string (not a secret: local auth is disabled).')
param applicationInsightsConnectionString string

@description('Upper bound on instances of each function group (HTTP, blob and each other trigger scale apart). The photo API throttles per app, so the blob group is capped; see docs/deploy.md.')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 40

@description('Memory per instance. Decoding a large JPEG takes a few hundred MB; 2048 leaves room for parallel drops.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Container HR drops photos into.')
param dropContainerName string

@description('Container rejected drops are moved to.')
param rejectedContainerName string

@description('Container uploaded drops are moved to.')
param processedContainerName string

@description('Table holding the last outcome per user.')
param stateTableName string

@description('What happens to a drop after a successful upload.')
@allowed([
  'keep'
  'delete'
  'move'
])
param processedAction string = 'keep'

@description('What happens to a rejected drop.')
@allowed([
  'keep'
  'move'
])
param rejectedAction string = 'keep'

@description('Photo API dialect.')
@allowed([
  'graph'
  'outlook'
])
param photoApiDialect string = 'graph'

@description('National cloud of the photo API and the sign-in authority.')
@allowed([
  'public'
  'usgov'
  'china'
])
param photoCloud string = 'public'

@description('How the app signs in to the photo API: as its managed identity (no secret), or as an app registration whose secret or certificate is in Key Vault.')
@allowed([
  'managed_identity'
  'client_secret'
  'certificate'
])
param photoAuthMode string = 'managed_identity'

@description('Entra tenant of the photo API.')
param photoTenantId string

@description('Client id of the app registration (only for client_secret and certificate modes).')
param photoAppClientId string = ''

@description('Accept bare employee ids as blob names (needs User.Read.All).')
param photoEmployeeIdMode bool = false

@description('Accept bare aliases as blob names and append this domain (empty: off).')
param photoDefaultDomain string = ''

@description('HR id mapping CSV as <container>/<path> in the storage account (empty: off).')
param photoIdMappingBlob string = ''

@description('When HR deletes the drop a user\'s current photo came from, delete the profile photo too (PHOTO_DELETE_ON_BLOB_DELETE). Needs processedAction and rejectedAction keep.')
param deleteProfilePhotoOnBlobDelete bool = false

@description('NCRONTAB schedule (UTC) of the reconcile timer that processes drops Event Grid never delivered.')
param reconcileSchedule string = '0 0 2 * * *'

@description('Key Vault holding the app registration credential (client_secret and certificate modes).')
param keyVaultName string = ''

@description('Name of the Key Vault secret (or certificate) with the app registration credential.')
param credentialSecretName string = ''

@description('Key Vault secret holding the notice webhook URL (empty: no notices; the notice timers are disabled).')
param notifyWebhookSecretName string = ''

@description('Notice format (PHOTO_NOTIFY_FORMAT): teams or json.')
@allowed([
  'teams'
  'json'
])
param notifyFormat string = 'teams'

@description('NCRONTAB schedule (UTC) of the notice timer (PHOTO_NOTIFY_SCHEDULE).')
param notifySchedule string = '0 * * * * *'

@description('NCRONTAB schedule (UTC) of the daily digest (PHOTO_NOTIFY_DIGEST_SCHEDULE).')
param notifyDigestSchedule string = '0 0 7 * * *'

@description('More app settings, e.g. image or retry tuning (PHOTO_MAX_SIDE). They cannot override the settings above.')
param extraAppSettings object = {}

@description('Require an Entra ID token (App Service authentication) for the lookup endpoint, in addition to its function key, which stays required either way.')
param enableLookupAuth bool = false

@description('Client id of the app registration that represents the lookup API (the token audience).')
param lookupAuthClientId string = ''

@description('Client ids of the applications allowed to call the lookup API (empty: any caller with a valid token for it).')
param lookupAuthAllowedApplications array = []

@description('Resource id of the subnet (delegated to Microsoft.App/environments) the app\'s outbound traffic goes through; empty: no VNet integration.')
param virtualNetworkSubnetId string = ''

// The project runs on Python 3.11 (pyproject.toml requires-python); Flex offers 3.11 and 3.12.
var pythonVersion = '3.11'

var usesAppRegistration = photoAuthMode != 'managed_identity'

// One app per Flex Consumption plan; the plan carries no settings of its own.
resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  // checkov:skip=CKV_AZURE_225: A Flex Consumption plan is zone redundant only in some regions and only when created so; photo processing is asynchronous and Event Grid retries deliveries for 24 hours, so a zone outage delays drops instead of losing them.
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    // Linux.
    reserved: true
  }
}

var appSettings = {
  // Host storage (leases, keys, blob receipts, the blob trigger's queues), by managed identity.
  AzureWebJobsStorage__blobServiceUri: storageBlobEndpoint
  AzureWebJobsStorage__queueServiceUri: storageQueueEndpoint
  AzureWebJobsStorage__tableServiceUri: storageTableEndpoint
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  // The photo containers and the outcome table (the blob trigger's connection="PhotoStorage").
  PhotoStorage__blobServiceUri: storageBlobEndpoint
  PhotoStorage__queueServiceUri: storageQueueEndpoint
  PhotoStorage__tableServiceUri: storageTableEndpoint
  PhotoStorage__credential: 'managedidentity'
  PhotoStorage__clientId: identityClientId
  // Telemetry authenticated as the identity; the connection string alone authorizes nothing.
  APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsightsConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
  // Lets any Azure SDK credential in the app pick the user-assigned identity.
  AZURE_CLIENT_ID: identityClientId
  PHOTO_DROP_CONTAINER: dropContainerName
  PHOTO_REJECTED_CONTAINER: rejectedContainerName
  PHOTO_PROCESSED_CONTAINER: processedContainerName
  PHOTO_STATE_TABLE: stateTableName
  PHOTO_PROCESSED_ACTION: processedAction
  PHOTO_REJECTED_ACTION: rejectedAction
  PHOTO_API_DIALECT: photoApiDialect
  PHOTO_CLOUD: photoCloud
  PHOTO_AUTH_MODE: photoAuthMode
  PHOTO_TENANT_ID: photoTenantId
  // With a managed identity, MSAL needs the user-assigned identity's client id.
  PHOTO_CLIENT_ID: usesAppRegistration ? photoAppClientId : identityClientId
  PHOTO_EMPLOYEE_ID_MODE: photoEmployeeIdMode ? 'true' : 'false'
  PHOTO_DEFAULT_DOMAIN: photoDefaultDomain
  PHOTO_ID_MAPPING_BLOB: photoIdMappingBlob
  // Off unless asked: the BlobDeleted subscription exists only then, too.
  PHOTO_DELETE_ON_BLOB_DELETE: deleteProfilePhotoOnBlobDelete ? 'true' : 'false'
  // The timer binding reads it as %PHOTO_RECONCILE_SCHEDULE%: it must exist for the app to load.
  PHOTO_RECONCILE_SCHEDULE: reconcileSchedule
  // The notice timers read these as %PHOTO_NOTIFY_SCHEDULE% and %PHOTO_NOTIFY_DIGEST_SCHEDULE%:
  // they must exist for the app to load, notices or not.
  PHOTO_NOTIFY_SCHEDULE: notifySchedule
  PHOTO_NOTIFY_DIGEST_SCHEDULE: notifyDigestSchedule
  PHOTO_NOTIFY_FORMAT: notifyFormat
  // The Python worker's thread pool: host.json's 8 blob invocations at once plus 4 for lookups
  // and the timer; unset it is min(32, cores + 4), 5 on a one-core instance (the arithmetic:
  // docs/performance.md, "Concurrency per instance").
  PYTHON_THREADPOOL_THREAD_COUNT: '12'
}

// The app registration's credential stays in Key Vault; the setting is a reference the platform
// resolves with the identity (keyVaultReferenceIdentity below). A Key Vault certificate's secret
// is the base64 PFX that PHOTO_CLIENT_CERTIFICATE accepts.
var credentialSettings = (photoAuthMode == 'client_secret') ? {
  PHOTO_CLIENT_SECRET: '@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=${credentialSecretName})'
} : ((photoAuthMode == 'certificate') ? {
  PHOTO_CLIENT_CERTIFICATE: '@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=${credentialSecretName})'
} : {})

// Notices to HR: the webhook URL is a Key Vault reference, like the credential. Without one the
// two notice timers are disabled, so an idle app is not woken every minute for nothing.
var notifySettings = empty(notifyWebhookSecretName) ? {
  'AzureWebJobs.notify.Disabled': 'true'
  'AzureWebJobs.notify_digest.Disabled': 'true'
} : {
  PHOTO_NOTIFY_WEBHOOK_URL: '@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=${notifyWebhookSecretName})'
}

// Later objects win: the extra settings cannot replace an identity or storage setting.
var allAppSettings = union(extraAppSettings, appSettings, credentialSettings, notifySettings)

resource site 'Microsoft.Web/sites@2024-04-01' = {
  // checkov:skip=CKV_AZURE_17: Event Grid's webhook deliveries cannot present a client certificate, so requiring one would stop the blob trigger on Flex Consumption (its only blob trigger source is Event Grid); callers authenticate with host and function keys, and optionally Entra ID tokens for the lookup API.
  // checkov:skip=CKV_AZURE_212: Flex Consumption scales from zero per trigger group; always-ready instances are billed around the clock, and Event Grid retries a delivery for 24 hours, so no instance minimum is needed to avoid losing a drop.
  // checkov:skip=CKV_AZURE_213: App Service health check takes instances of a fixed pool out of rotation; Flex Consumption adds and removes instances on demand per trigger group, so the anonymous /api/health function is left to external probes such as Application Insights availability tests.
  // checkov:skip=CKV_AZURE_222: Event Grid cannot deliver to a private endpoint, so the blob trigger's webhook must stay public; it and the lookup API are protected by host and function keys (and optionally Entra ID).
  name: name
  location: location
  tags: union(tags, {
    // azd deploys the "api" service of azure.yaml to the resource with this tag.
    'azd-service-name': 'api'
  })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    // Stays public with the private network option too: Event Grid delivers to the webhook over
    // the internet and cannot reach a private endpoint.
    publicNetworkAccess: 'Enabled'
    // Private network option: every outbound call (storage through its private endpoints,
    // Graph, telemetry) leaves through the delegated subnet.
    virtualNetworkSubnetId: empty(virtualNetworkSubnetId) ? null : virtualNetworkSubnetId
    clientCertEnabled: false
    // Key Vault references are resolved as the user-assigned identity, not a system identity.
    keyVaultReferenceIdentity: identityId
    siteConfig: {
      // Set with the site rather than as a separate config resource, so the host's first start
      // already has its storage connection. (Every value is known when the deployment starts,
      // as a for-expression requires: the endpoints come in as parameters.)
      appSettings: [for setting in items(allAppSettings): {
        name: setting.key
        value: setting.value
      }]
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storageBlobEndpoint}${deploymentContainerName}'
          // The platform reads the package with the identity: no connection string.
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        // Bounded: every instance calls the photo API as the same app, and the API throttles
        // per app. The platform applies this cap per function group, not to the app as a whole
        // (Flex Consumption scales HTTP, blob (Event Grid) and every other trigger as separate
        // groups: Azure Functions docs, "Flex Consumption plan hosting", Per-function scaling):
        // it bounds the blob trigger's instances, and the lookup and reconcile functions may add
        // instances of their own. A burst beyond the cap waits in Event Grid and the blob
        // trigger's queue.
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'python'
        version: pythonVersion
      }
    }
  }
}

// Optional Entra ID sign-in in front of the lookup endpoint. The function key is still required
// (auth level function); this adds "who is calling" on top of "has the key". The key stays
// whatever the platform does: while Flex Consumption was in preview its documentation said that
// App Service authentication was not supported there and that "unauthenticated callers currently
// aren't blocked when EasyAuth is enabled" (Azure Functions docs, "Flex Consumption plan
// hosting", Considerations, 2024); the current page no longer lists that limitation. Either way
// the function key alone keeps anonymous callers out. The Event Grid
// webhooks and the health probe are excluded: Event Grid authenticates with the blobs_extension
// and eventgrid_extension keys, and the probe is anonymous by design. The document is always
// written, switched on or off by enableLookupAuth, so that turning the option off really turns
// authentication off.
resource lookupAuth 'Microsoft.Web/sites/config@2024-04-01' = {
  // checkov:skip=CKV_AZURE_13: This is the authsettingsV2 document, which switches authentication with platform.enabled; the check reads the retired V1 authsettings shape. On Flex Consumption it is opt-in (enableLookupAuth) on top of the function key.
  // checkov:skip=CKV_AZURE_63: HTTP logging belongs to the site's web configuration, not to this authentication document; on Flex Consumption requests and their results are recorded by Application Insights.
  // checkov:skip=CKV_AZURE_65: Detailed error pages belong to the site's web configuration, not to this authentication document; on Flex Consumption failures are recorded by Application Insights.
  // checkov:skip=CKV_AZURE_66: Failed request tracing belongs to the site's web configuration, not to this authentication document; on Flex Consumption failed requests are recorded by Application Insights.
  // checkov:skip=CKV_AZURE_80: A Python function app has no .NET Framework version, and this resource is the authentication document.
  // checkov:skip=CKV_AZURE_88: Flex Consumption has no content file share (the package comes from the deployment blob container), and this resource is the authentication document.
  // checkov:skip=CKV_AZURE_222: Public access is a property of the site (see the site's reason: Event Grid cannot deliver to a private endpoint), not of this authentication document.
  parent: site
  name: 'authsettingsV2'
  properties: {
    platform: {
      enabled: enableLookupAuth
    }
    globalValidation: {
      requireAuthentication: true
      unauthenticatedClientAction: 'Return401'
      excludedPaths: [
        '/api/health'
        '/runtime/webhooks/blobs'
        '/runtime/webhooks/eventgrid'
      ]
    }
    httpSettings: {
      requireHttps: true
    }
    // Without the option there is no provider at all (an empty client id is never sent).
    identityProviders: enableLookupAuth ? {
      azureActiveDirectory: {
        enabled: true
        registration: {
          openIdIssuer: '${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0'
          clientId: lookupAuthClientId
        }
        validation: {
          allowedAudiences: [
            'api://${lookupAuthClientId}'
            lookupAuthClientId
          ]
          defaultAuthorizationPolicy: {
            allowedApplications: lookupAuthAllowedApplications
          }
        }
      }
    } : {}
    login: {
      tokenStore: {
        enabled: false
      }
    }
  }
}

// No basic (user name and password) publishing credentials: azd and the Azure CLI deploy with
// Entra ID tokens, and a leaked publish profile must not be a way to replace the code.
resource scmBasicAuth 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'scm'
  properties: {
    allow: false
  }
}

resource ftpBasicAuth 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'ftp'
  properties: {
    allow: false
  }
}

output id string = site.id
output name string = site.name
output defaultHostName string = site.properties.defaultHostName
output url string = 'https://${site.properties.defaultHostName}'
