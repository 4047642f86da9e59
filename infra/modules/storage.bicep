// The storage account photo-sync lives in: the HR drop container and the containers a drop moves
// to, the outcome table, the Event Grid dead-letter container, and the Flex Consumption deployment
// container. The Functions host (AzureWebJobsStorage) uses the same account for its leases, keys,
// blob receipts and the blob trigger's queues.
//
// Every data access is authorized with Entra ID: shared keys (and with them account SAS and
// connection strings) are switched off, nothing is public, and deletes are recoverable.
//
// Network: by default the account answers on its public endpoint (every request still needs an
// Entra ID token and a data role). With main.bicep's privateNetwork option, main.bicep passes
// publicNetworkAccess Disabled and defaultAction Deny (private endpoints only, see
// private-endpoints.bicep), or, when HR's addresses are listed, Enabled with Deny and those
// addresses as the only IP rules.

@description('Name of the storage account (3-24 lowercase letters and digits).')
@minLength(3)
@maxLength(24)
param name string

@description('Azure region of the account.')
param location string

@description('Tags applied to the account.')
param tags object = {}

@description('Replication. ZRS survives the loss of a zone; use Standard_LRS in regions without availability zones.')
@allowed([
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GRS'
  'Standard_GZRS'
  'Standard_RAGRS'
  'Standard_RAGZRS'
])
param skuName string = 'Standard_ZRS'

@description('Container HR drops photos into.')
param dropContainerName string

@description('Container rejected drops are moved to (PHOTO_REJECTED_ACTION=move).')
param rejectedContainerName string

@description('Container uploaded drops are moved to (PHOTO_PROCESSED_ACTION=move).')
param processedContainerName string

@description('Container Event Grid writes undeliverable events to.')
param deadLetterContainerName string

@description('Container the Flex Consumption plan deploys the app package to.')
param deploymentContainerName string

@description('Table holding the last outcome per user.')
param stateTableName string

@description('Days a deleted or overwritten blob, or a deleted container, can be restored.')
@minValue(1)
@maxValue(365)
param softDeleteRetentionDays int = 14

@description('Log Analytics workspace that receives the blob write and delete logs.')
param logAnalyticsWorkspaceId string

@description('Public endpoint: Enabled (default), or Disabled with the private network option and no HR addresses.')
@allowed([
  'Enabled'
  'Disabled'
])
param publicNetworkAccess string = 'Enabled'

@description('What the firewall does with a request no rule matches: Allow (default) or Deny (private network option).')
@allowed([
  'Allow'
  'Deny'
])
param networkDefaultAction string = 'Allow'

@description('Public IPv4 addresses or CIDR ranges allowed through the firewall (HR\'s upload hosts, private network option only).')
param allowedIpRanges array = []

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  // checkov:skip=CKV_AZURE_35: Without the privateNetwork option (the default), HR uploaders, the Flex Consumption platform and an app without virtual network integration reach the account over its public endpoint, where every request still needs an Entra ID token and a data role; with the option, main.bicep passes Deny (tests/infra checks that set with no skip).
  // checkov:skip=CKV_AZURE_59: Without the privateNetwork option public network access stays on for the same callers, and accepts only Entra ID tokens with a data role since shared keys and anonymous blob access are disabled; with the option it is Disabled (tests/infra checks that set with no skip).
  // checkov:skip=CKV_AZURE_206: The account holds hand-off copies (HR keeps the originals) and outcome records a re-drop rebuilds; the default ZRS keeps three copies across zones, soft delete covers deletes, and the storageSku parameter selects Standard_GZRS where geo-redundancy is wanted.
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: skuName
  }
  properties: {
    accessTier: 'Hot'
    // No shared keys: no account keys, account SAS or connection strings can be used. The app,
    // the Flex deployment and HR all authenticate with Entra ID.
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    // Blob index tags (which photo-sync writes) are unavailable with a hierarchical namespace, and
    // SFTP needs one; SFTP local users would also be a second, password-based way in.
    isHnsEnabled: false
    isSftpEnabled: false
    isLocalUserEnabled: false
    publicNetworkAccess: publicNetworkAccess
    networkAcls: {
      // Trusted Azure services keep access when the firewall denies everything else: the Event
      // Grid system topic writes dead letters with its system-assigned identity, which a storage
      // firewall lets through only as a trusted service (Event Grid docs, "Storage queue as an
      // event handler": "you can use only the system-assigned managed identity if Allow Azure
      // services on the trusted service list ... is also enabled"). The official azd template
      // for an Event Grid blob trigger on Flex Consumption keeps the same bypass with its VNet
      // option (Azure-Samples/functions-quickstart-python-azd-eventgrid-blob, infra/main.bicep).
      bypass: 'AzureServices'
      defaultAction: networkDefaultAction
      ipRules: [for range in allowedIpRanges: {
        value: range
        action: 'Allow'
      }]
    }
    encryption: {
      keySource: 'Microsoft.Storage'
      requireInfrastructureEncryption: true
      services: {
        blob: {
          enabled: true
          keyType: 'Account'
        }
        file: {
          enabled: true
          keyType: 'Account'
        }
        queue: {
          enabled: true
          keyType: 'Account'
        }
        table: {
          enabled: true
          keyType: 'Account'
        }
      }
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
  properties: {
    // A deleted or overwritten photo stays restorable for softDeleteRetentionDays, and so does a
    // deleted container: no photo is lost to a mistaken delete.
    deleteRetentionPolicy: {
      enabled: true
      days: softDeleteRetentionDays
      allowPermanentDelete: false
    }
    containerDeleteRetentionPolicy: {
      enabled: true
      days: softDeleteRetentionDays
    }
  }
}

resource dropContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: dropContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource rejectedContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: rejectedContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource processedContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: processedContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource deadLetterContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deadLetterContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource stateTable 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = {
  parent: tableService
  name: stateTableName
}

// Who wrote or deleted which blob, and when: the audit trail for drops, moves and deletes.
// Reads are left out; the trigger reads every drop and would drown the interesting lines.
resource blobLogs 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'blob-writes-and-deletes'
  scope: blobService
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: [
      {
        category: 'StorageWrite'
        enabled: true
      }
      {
        category: 'StorageDelete'
        enabled: true
      }
    ]
  }
}

output id string = storage.id
output name string = storage.name
output blobEndpoint string = storage.properties.primaryEndpoints.blob
output queueEndpoint string = storage.properties.primaryEndpoints.queue
output tableEndpoint string = storage.properties.primaryEndpoints.table
output dropContainerUrl string = '${storage.properties.primaryEndpoints.blob}${dropContainer.name}'
output deploymentContainerUrl string = '${storage.properties.primaryEndpoints.blob}${deploymentContainer.name}'
