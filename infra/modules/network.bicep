// The virtual network of the privateNetwork option (main.bicep deploys this module only then).
//
// Two subnets:
//   app                the function app's outbound VNet integration. Flex Consumption needs the
//                      subnet delegated to Microsoft.App/environments (Azure Functions docs,
//                      "Flex Consumption plan hosting", Considerations: "The subnet delegation
//                      required by Flex Consumption apps is Microsoft.App/environments"), and the
//                      Microsoft.App resource provider registered in the subscription.
//   private-endpoints  the storage account's blob, queue and table private endpoints
//                      (private-endpoints.bicep).
// Inbound traffic to the app does not use the VNet: Event Grid delivers to the function's
// public webhook, so the site keeps its public endpoint (function-app.bicep).
//
// Both subnets carry a network security group with only the platform's default rules, so that
// rules can be added later without re-creating the subnets.

@description('Name of the virtual network.')
param name string

@description('Name of the network security group of both subnets.')
param networkSecurityGroupName string

@description('Azure region of the network; it must be the function app\'s region.')
param location string

@description('Tags applied to the network and its security group.')
param tags object = {}

@description('Address space of the virtual network.')
param addressPrefix string = '10.0.0.0/16'

@description('Address range of the function app\'s integration subnet.')
param appSubnetPrefix string = '10.0.2.0/24'

@description('Address range of the private endpoints\' subnet.')
param privateEndpointSubnetPrefix string = '10.0.1.0/24'

var appSubnetName = 'app'
var privateEndpointSubnetName = 'private-endpoints'

resource nsg 'Microsoft.Network/networkSecurityGroups@2024-05-01' = {
  name: networkSecurityGroupName
  location: location
  tags: tags
  properties: {
    securityRules: []
  }
}

// The subnets are declared inside the network (not as child resources), so that a re-deployment
// does not try to remove and re-add them while the app and the endpoints use them.
resource vnet 'Microsoft.Network/virtualNetworks@2024-05-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    addressSpace: {
      addressPrefixes: [
        addressPrefix
      ]
    }
    subnets: [
      {
        name: privateEndpointSubnetName
        properties: {
          addressPrefix: privateEndpointSubnetPrefix
          networkSecurityGroup: {
            id: nsg.id
          }
          privateEndpointNetworkPolicies: 'Disabled'
          privateLinkServiceNetworkPolicies: 'Enabled'
        }
      }
      {
        name: appSubnetName
        properties: {
          addressPrefix: appSubnetPrefix
          networkSecurityGroup: {
            id: nsg.id
          }
          delegations: [
            {
              name: 'flex-consumption'
              properties: {
                serviceName: 'Microsoft.App/environments'
              }
            }
          ]
        }
      }
    ]
  }
}

output id string = vnet.id
output name string = vnet.name
output appSubnetId string = '${vnet.id}/subnets/${appSubnetName}'
output privateEndpointSubnetId string = '${vnet.id}/subnets/${privateEndpointSubnetName}'
