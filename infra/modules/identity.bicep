// The one identity photo-sync runs as.
//
// A user-assigned identity (rather than the app's system-assigned one) exists before the app does,
// so its roles can be granted in the same deployment and the Graph app roles can be granted once
// and survive a re-created function app. The app uses it for everything: host storage, the photo
// containers and table, Application Insights ingestion, Key Vault references, and (by default)
// the Microsoft Graph token itself, through MSAL's managed-identity client. No secret exists.

@description('Name of the user-assigned managed identity.')
param name string

@description('Azure region of the identity.')
param location string

@description('Tags applied to the identity.')
param tags object = {}

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output name string = identity.name
output clientId string = identity.properties.clientId
output principalId string = identity.properties.principalId
