// Where photo-sync's telemetry goes: a Log Analytics workspace and a workspace-based Application
// Insights component in front of it.
//
// Both have local (key-based) authentication disabled: the function app sends telemetry with its
// managed identity (APPLICATIONINSIGHTS_AUTHENTICATION_STRING, Monitoring Metrics Publisher on the
// component, see rbac.bicep), so the instrumentation key inside the connection string grants
// nothing on its own. That is why the connection string may sit in plain app settings.

@description('Name of the Log Analytics workspace.')
param logAnalyticsName string

@description('Name of the Application Insights component.')
param applicationInsightsName string

@description('Azure region of both resources.')
param location string

@description('Tags applied to both resources.')
param tags object = {}

@description('Days the workspace keeps logs. 30 is included in the ingestion price; longer costs extra.')
@minValue(30)
@maxValue(730)
param retentionInDays int = 30

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: logAnalyticsName
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: retentionInDays
    features: {
      // Agents and apps must authenticate with Entra ID; the workspace keys stop working.
      disableLocalAuth: true
    }
    // The function app has no virtual network here, so ingestion and queries use public
    // endpoints; both require an Entra token.
    publicNetworkAccessForIngestion: 'Enabled'
    publicNetworkAccessForQuery: 'Enabled'
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: applicationInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspace.id
    // Only Entra-authenticated telemetry is accepted (the app's managed identity).
    DisableLocalAuth: true
    publicNetworkAccessForIngestion: 'Enabled'
    publicNetworkAccessForQuery: 'Enabled'
  }
}

output workspaceId string = workspace.id
output workspaceName string = workspace.name
output applicationInsightsId string = appInsights.id
output applicationInsightsName string = appInsights.name
// Not a secret: with local auth disabled the instrumentation key in it authorizes nothing.
output connectionString string = appInsights.properties.ConnectionString
