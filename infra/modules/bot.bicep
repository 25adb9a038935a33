// Azure Bot (Bot Service registration) authenticated by the user-assigned managed identity — no app password.
// UserAssignedMSI bots are single-tenant: the identity's tenant is the only one that can use the bot.
param name string
param displayName string
param tags object = {}

@description('https://<web app host>/api/messages')
param endpoint string

param identityId string
param identityClientId string
param identityTenantId string

@allowed([
  'F0'
  'S1'
])
param sku string = 'S1'

param logAnalyticsWorkspaceId string

resource bot 'Microsoft.BotService/botServices@2022-09-15' = {
  name: name
  location: 'global'
  tags: tags
  kind: 'azurebot'
  sku: {
    name: sku
  }
  properties: {
    displayName: displayName
    endpoint: endpoint
    msaAppType: 'UserAssignedMSI'
    msaAppId: identityClientId
    msaAppTenantId: identityTenantId
    msaAppMSIResourceId: identityId
    disableLocalAuth: true
    isStreamingSupported: false
    publicNetworkAccess: 'Enabled'
    schemaTransformationVersion: '1.3'
  }
}

resource teams 'Microsoft.BotService/botServices/channels@2022-09-15' = {
  parent: bot
  name: 'MsTeamsChannel'
  location: 'global'
  properties: {
    channelName: 'MsTeamsChannel'
    properties: {
      isEnabled: true
      enableCalling: false
      deploymentEnvironment: 'CommercialDeployment'
      acceptedTerms: true
    }
  }
}

resource diagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: bot
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: [
      {
        categoryGroup: 'allLogs'
        enabled: true
      }
    ]
    metrics: [
      {
        category: 'AllMetrics'
        enabled: true
      }
    ]
  }
}

output id string = bot.id
output name string = bot.name
