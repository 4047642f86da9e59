// Subscribes the Event Grid trigger function (photo_deleted) to the drop container's BlobDeleted
// events: only deployed when deleteProfilePhotoOnBlobDelete is true (eventgrid-subscription.bicep
// deploys this module conditionally, so with the option off nothing here is even evaluated).
//
// Like the BlobCreated subscription, it is created after the code is deployed: the webhook URL
// carries the host's eventgrid_extension system key, which the host creates when it first loads
// an Event Grid trigger, and which is read here with listKeys at deployment time (never through a
// script, a parameter or the deployment history). Creating the subscription makes Event Grid send
// a validation event, which the Event Grid extension answers.

@description('Name of the storage account\'s Event Grid system topic.')
param systemTopicName string

@description('Name of the function app.')
param functionAppName string

@description('Name of the storage account (the dead-letter destination).')
param storageAccountName string

@description('Name of the Event Grid trigger function in function_app.py.')
param eventGridTriggerFunctionName string = 'photo_deleted'

@description('Container HR drops photos into; only its deletions are delivered.')
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

resource deletions 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2025-02-15' = {
  parent: topic
  name: 'photo-deletions'
  properties: {
    destination: {
      endpointType: 'WebHook'
      properties: {
        // The Event Grid extension's webhook; functionName is the plain function name.
        endpointUrl: 'https://${functionApp.properties.defaultHostName}/runtime/webhooks/eventgrid?functionName=${eventGridTriggerFunctionName}&code=${listKeys('${functionApp.id}/host/default', '2024-04-01').systemKeys.eventgrid_extension}'
        // One deletion per delivery: each is its own invocation and retry.
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
        'Microsoft.Storage.BlobDeleted'
      ]
      // The same prefix as the BlobCreated subscription: deletions in hr-photos-rejected,
      // hr-photos-processed and the dead-letter container never reach the function.
      subjectBeginsWith: '/blobServices/default/containers/${dropContainerName}/blobs/'
    }
    // The same retry and dead-letter policy as the BlobCreated subscription: a cold start, a
    // deployment or a short Graph outage delays a deletion instead of losing it.
    retryPolicy: {
      maxDeliveryAttempts: maxDeliveryAttempts
      eventTimeToLiveInMinutes: eventTimeToLiveInMinutes
    }
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

output name string = deletions.name
