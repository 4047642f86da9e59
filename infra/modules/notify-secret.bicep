// The webhook URL that notices to HR are posted to (a Teams workflow URL carries its signature
// in the query), kept in the deployment's Key Vault. The function app's PHOTO_NOTIFY_WEBHOOK_URL
// is a Key Vault reference to it, resolved with the app's identity (Key Vault Secrets User,
// rbac.bicep); the URL never becomes a plain app setting.

@description('The Key Vault (keyvault.bicep) to keep the URL in.')
param vaultName string

@description('Name of the secret.')
param secretName string

@secure()
@description('The webhook URL.')
param value string

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: vaultName
}

resource secret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  // checkov:skip=CKV_AZURE_41: A Teams workflow URL has no expiry of its own; an expiry date here would stop every notice on that date without anything else changing. Replace the secret to rotate the URL.
  parent: vault
  name: secretName
  properties: {
    value: value
    contentType: 'text/uri-list'
  }
}

output name string = secret.name
