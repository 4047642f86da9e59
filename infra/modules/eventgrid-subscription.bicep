// Subscribes the blob-trigger function to the drop container's BlobCreated events, and, only with
// deleteProfilePhotoOnBlobDelete, the Event Grid trigger function to its BlobDeleted events
// (eventgrid-deletion-subscription.bicep).
//
// Deployed after the app code (infra/hooks/postdeploy.sh or .ps1 runs it), because the webhook
// URL needs the host's blobs_extension system key, which the host creates when it first loads a
// blob trigger with the Event Grid source. The key is read here with listKeys at deployment time,
// so it never passes through a script, a parameter or the deployment history. Creating the
// subscription makes Event Grid send a validation event to the webhook, which the blob extension
// answers; that also proves the function is reachable.

@description('Name of the storage account\'s Event Grid system topic.')
param systemTopicName string

@description('Name of the function app.')
param functionAppName string

@description('Name of the storage account (the dead-letter destination).')
param storageAccountName string

@description('Name of the blob-trigger function in function_app.py.')
param blobTriggerFunctionName string = 'sync_photo'

@description('Subscribe the Event Grid trigger function to BlobDeleted events of the drop container (deleteProfilePhotoOnBlobDelete in main.bicep).')
param deleteProfilePhotoOnBlobDelete bool = false

@description('Name of the Event Grid trigger function in function_app.py that handles deletions.')
param eventGridTriggerFunctionName string = 'photo_deleted'

@description('Container HR drops photos into; only its events are delivered.')
param dropContainerName string = 'hr-photos'

@description('Container undeliverable events are written to.')
param deadLetterContainerName string = 'hr-photos-deadletter'

@description('Delivery attempts per event before it is dead-lettered.')
@minValue(1)
@maxValue(30)
param maxDeliveryAttempts int = 30

@description('Minutes Event Grid keeps retrying an event before it is dead-lettered.')
@minValue(1)
@maxValue(1440)
param eventTimeToLiveInMinutes int = 1440

resource topic 'Microsoft.EventGrid/systemTopics@2025-02-15' existing = {
  name: systemTopicName
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' existing = {
  name: functionAppName
}

resource drops 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2025-02-15' = {
  parent: topic
  // Letters, digits and hyphens only (no underscores).
  name: 'photo-drops'
  properties: {
    destination: {
      endpointType: 'WebHook'
      properties: {
        // The blob extension's webhook; functionName is Host.Functions.<function name>.
        endpointUrl: 'https://${functionApp.properties.defaultHostName}/runtime/webhooks/blobs?functionName=Host.Functions.${blobTriggerFunctionName}&code=${listKeys('${functionApp.id}/host/default', '2024-04-01').systemKeys.blobs_extension}'
        // One drop per delivery: each is its own invocation, retry and outcome.
        maxEventsPerBatch: 1
        preferredBatchSizeInKilobytes: 64
        // Event Grid delivers over TLS 1.2 or later only. 2025-02-15 is the first GA API version
        // with this property (WebHookEventSubscriptionDestinationProperties in
        // Azure/bicep-types-az, generated/eventgrid/microsoft.eventgrid/2025-02-15/types.md).
        minimumTlsVersionAllowed: '1.2'
      }
    }
    eventDeliverySchema: 'EventGridSchema'
    filter: {
      includedEventTypes: [
        'Microsoft.Storage.BlobCreated'
      ]
      // The trailing "/blobs/" keeps hr-photos-rejected, hr-photos-processed and the dead-letter
      // container out: moving a drop there must not trigger it again. No suffix filter: a
      // wrongly named file must reach the function so that its rejection is recorded.
      subjectBeginsWith: '/blobServices/default/containers/${dropContainerName}/blobs/'
    }
    // Retried with exponential backoff for up to a day: a cold start, a deployment or a short
    // outage of the app delays drops instead of losing them.
    retryPolicy: {
      maxDeliveryAttempts: maxDeliveryAttempts
      eventTimeToLiveInMinutes: eventTimeToLiveInMinutes
    }
    // Whatever still cannot be delivered is written to the dead-letter container, by the topic's
    // own identity (shared keys are disabled on the account).
    deadLetterWithResourceIdentity: {
      identity: {
        type: 'SystemAssigned'
      }
      deadLetterDestination: {
        endpointType: 'StorageBlob'
        properties: {
          resourceId: storage.id
          blobContainerName: deadLetterContainerName
        }
      }
    }
  }
}

// A module, not a conditional resource: with the option off, its webhook URL (and the
// eventgrid_extension key it reads) is never evaluated at all.
module deletions 'eventgrid-deletion-subscription.bicep' = if (deleteProfilePhotoOnBlobDelete) {
  name: 'photo-sync-deletion-subscription'
  params: {
    systemTopicName: systemTopicName
    functionAppName: functionAppName
    storageAccountName: storageAccountName
    eventGridTriggerFunctionName: eventGridTriggerFunctionName
    dropContainerName: dropContainerName
    deadLetterContainerName: deadLetterContainerName
    maxDeliveryAttempts: maxDeliveryAttempts
    eventTimeToLiveInMinutes: eventTimeToLiveInMinutes
  }
}

output name string = drops.name
