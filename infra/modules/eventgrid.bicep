// The Event Grid system topic of the storage account: the source of the BlobCreated events that
// drive the blob trigger (on Flex Consumption the blob trigger only works with the Event Grid
// source; there is no polling).
//
// The topic is created with the infrastructure; the subscription that delivers events to the
// function app is created after the code is deployed (eventgrid-subscription.bicep, run by the
// postdeploy hook), because its webhook URL carries the blobs_extension key, which exists only
// once the host has loaded the blob trigger.
//
// The topic has its own system-assigned identity so that it can write dead letters to the
// storage account without a key (shared keys are disabled); rbac.bicep grants it Storage Blob
// Data Contributor on the dead-letter container only.

@description('Name of the system topic.')
param name string

@description('Azure region; a storage system topic lives in its account\'s region.')
param location string

@description('Tags applied to the topic.')
param tags object = {}

@description('Resource id of the storage account whose events the topic publishes.')
param storageAccountId string

resource topic 'Microsoft.EventGrid/systemTopics@2025-02-15' = {
  name: name
  location: location
  tags: tags
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    source: storageAccountId
    topicType: 'Microsoft.Storage.StorageAccounts'
  }
}

output id string = topic.id
output name string = topic.name
output principalId string = topic.identity.principalId
