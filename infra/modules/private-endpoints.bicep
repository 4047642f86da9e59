// Private endpoints of the storage account for the privateNetwork option (main.bicep deploys this
// module only then): one per service the app uses (blob, queue, table; no file share on Flex
// Consumption), each with its private DNS zone linked to the virtual network, so that the app's
// usual endpoint names (<account>.blob.core.windows.net, ...) resolve to the private addresses
// inside the network. Zone names follow the cloud (environment().suffixes.storage), as the
// official azd template does (Azure-Samples/functions-quickstart-python-azd-eventgrid-blob,
// infra/app/storage-PrivateEndpoint.bicep).

@description('Name of the storage account.')
param storageAccountName string

@description('Resource id of the virtual network the zones are linked to.')
param virtualNetworkId string

@description('Resource id of the subnet that holds the endpoints.')
param subnetId string

@description('Azure region of the endpoints (the network\'s).')
param location string

@description('Tags applied to every resource.')
param tags object = {}

// The storage services photo-sync and the Functions host use: blobs (drops, host data, the
// deployment package), queues (the blob trigger's) and tables (outcomes, host data).
var services = [
  'blob'
  'queue'
  'table'
]

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource zones 'Microsoft.Network/privateDnsZones@2024-06-01' = [for service in services: {
  name: 'privatelink.${service}.${environment().suffixes.storage}'
  location: 'global'
  tags: tags
}]

resource zoneLinks 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2024-06-01' = [for (service, i) in services: {
  parent: zones[i]
  name: 'photosync-${service}'
  location: 'global'
  tags: tags
  properties: {
    registrationEnabled: false
    virtualNetwork: {
      id: virtualNetworkId
    }
  }
}]

resource endpoints 'Microsoft.Network/privateEndpoints@2024-05-01' = [for service in services: {
  name: 'pep-${storageAccountName}-${service}'
  location: location
  tags: tags
  properties: {
    subnet: {
      id: subnetId
    }
    privateLinkServiceConnections: [
      {
        name: '${storageAccountName}-${service}'
        properties: {
          privateLinkServiceId: storage.id
          groupIds: [
            service
          ]
        }
      }
    ]
  }
}]

// Keeps each zone's A record in step with its endpoint's address.
resource zoneGroups 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups@2024-05-01' = [for (service, i) in services: {
  parent: endpoints[i]
  name: 'default'
  properties: {
    privateDnsZoneConfigs: [
      {
        name: service
        properties: {
          privateDnsZoneId: zones[i].id
        }
      }
    ]
  }
}]

output endpointNames array = [for (service, i) in services: endpoints[i].name]
