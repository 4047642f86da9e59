// Key Vault for the app-registration modes (PHOTO_AUTH_MODE=client_secret or certificate).
//
// Deployed only when photo-sync signs in to Graph as an app registration instead of as its
// managed identity. The secret or certificate is put in by an administrator after deployment
// (it never passes through a template or a parameter), and the function app reads it through a
// Key Vault reference resolved with its managed identity (Key Vault Secrets User, rbac.bicep).

@description('Name of the vault (3-24 letters, digits and hyphens).')
@minLength(3)
@maxLength(24)
param name string

@description('Azure region of the vault.')
param location string

@description('Tags applied to the vault.')
param tags object = {}

@description('Log Analytics workspace that receives the vault audit log.')
param logAnalyticsWorkspaceId string

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  // checkov:skip=CKV_AZURE_189: App Service resolves Key Vault references from the Flex Consumption app's outbound addresses, which are shared and change, so the vault stays reachable publicly; only the app identity (Key Vault Secrets User) and the administrator (Secrets Officer) hold data roles.
  // checkov:skip=CKV_AZURE_109: A firewall would have to list the Flex Consumption app's outbound addresses, which are shared and change; access is by Entra RBAC only (no access policies) and every read is audited to Log Analytics.
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: tenant().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    // Azure RBAC instead of access policies: the app gets Key Vault Secrets User and nothing else.
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    // A deleted vault (and the credential in it) can be recovered but never purged early.
    enablePurgeProtection: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }
}

// Every secret read (each reference resolution by the app) and every change is recorded.
resource vaultAudit 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'audit'
  scope: vault
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: [
      {
        categoryGroup: 'audit'
        enabled: true
      }
    ]
  }
}

output id string = vault.id
output name string = vault.name
output uri string = vault.properties.vaultUri
