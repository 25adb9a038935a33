// Container registry for the bot image (azd builds and pushes it; the Web App pulls with its managed identity).
// Admin user off; Premium (needed for private endpoints) only in closed deployments.
param name string
param location string
param tags object = {}

@description('Principal (the app identity) granted AcrPull.')
param pullPrincipalId string

param enablePrivateEndpoints bool = false
param privateEndpointSubnetId string = ''
param privateDnsZoneId string = ''
param logAnalyticsWorkspaceId string

var acrPullRoleId = '7f951dda-4ed3-4680-a7ca-43fe172d538d' // AcrPull

resource registry 'Microsoft.ContainerRegistry/registries@2023-07-01' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: enablePrivateEndpoints ? 'Premium' : 'Standard'
  }
  properties: {
    adminUserEnabled: false
    anonymousPullEnabled: false
    publicNetworkAccess: enablePrivateEndpoints ? 'Disabled' : 'Enabled'
    networkRuleBypassOptions: 'AzureServices'
    policies: {
      retentionPolicy: {
        days: 30
        status: enablePrivateEndpoints ? 'enabled' : 'disabled'
      }
    }
  }
}

resource pullRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(registry.id, pullPrincipalId, acrPullRoleId)
  scope: registry
  properties: {
    principalId: pullPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', acrPullRoleId)
  }
}

resource diagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: registry
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: [
      {
        categoryGroup: 'audit'
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

module privateEndpoint 'private-endpoint.bicep' = if (enablePrivateEndpoints) {
  name: 'pe-${name}'
  params: {
    name: 'pep-${name}'
    location: location
    tags: tags
    subnetId: privateEndpointSubnetId
    targetResourceId: registry.id
    groupId: 'registry'
    privateDnsZoneId: privateDnsZoneId
  }
}

output id string = registry.id
output name string = registry.name
output loginServer string = registry.properties.loginServer
