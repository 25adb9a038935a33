// Azure OpenAI: keys disabled (disableLocalAuth), the app authenticates with its managed identity
// (Cognitive Services OpenAI User). One chat deployment, one embeddings deployment.
param name string
param location string
param tags object = {}

param chatDeploymentName string = 'gpt-4o-mini'
param chatModelName string = 'gpt-4o-mini'
param chatModelVersion string = '2024-07-18'
param chatCapacity int = 30

param embeddingsDeploymentName string = 'text-embedding-3-small'
param embeddingsModelName string = 'text-embedding-3-small'
param embeddingsModelVersion string = '1'
param embeddingsCapacity int = 30

@description('Standard keeps processing in the account\'s region; GlobalStandard may process anywhere.')
@allowed([
  'Standard'
  'GlobalStandard'
  'DataZoneStandard'
])
param deploymentSkuName string = 'Standard'

@description('Principal (the app identity) granted Cognitive Services OpenAI User.')
param userPrincipalId string

param enablePrivateEndpoints bool = false
param privateEndpointSubnetId string = ''
param privateDnsZoneId string = ''
param logAnalyticsWorkspaceId string

var openAiUserRoleId = '5e0bd9bd-7b93-4f28-af87-19fc36ad61bd' // Cognitive Services OpenAI User

resource account 'Microsoft.CognitiveServices/accounts@2024-10-01' = {
  name: name
  location: location
  tags: tags
  kind: 'OpenAI'
  sku: {
    name: 'S0'
  }
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    customSubDomainName: name
    disableLocalAuth: true
    publicNetworkAccess: enablePrivateEndpoints ? 'Disabled' : 'Enabled'
    networkAcls: {
      defaultAction: enablePrivateEndpoints ? 'Deny' : 'Allow'
      ipRules: []
      virtualNetworkRules: []
    }
    restrictOutboundNetworkAccess: true
    allowedFqdnList: []
  }
}

resource chat 'Microsoft.CognitiveServices/accounts/deployments@2024-10-01' = {
  parent: account
  name: chatDeploymentName
  sku: {
    name: deploymentSkuName
    capacity: chatCapacity
  }
  properties: {
    model: {
      format: 'OpenAI'
      name: chatModelName
      version: chatModelVersion
    }
    versionUpgradeOption: 'OnceNewDefaultVersionAvailable'
  }
}

// Deployments on one account must be created one after the other.
resource embeddings 'Microsoft.CognitiveServices/accounts/deployments@2024-10-01' = {
  parent: account
  name: embeddingsDeploymentName
  sku: {
    name: deploymentSkuName
    capacity: embeddingsCapacity
  }
  properties: {
    model: {
      format: 'OpenAI'
      name: embeddingsModelName
      version: embeddingsModelVersion
    }
  }
  dependsOn: [
    chat
  ]
}

resource userRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(account.id, userPrincipalId, openAiUserRoleId)
  scope: account
  properties: {
    principalId: userPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', openAiUserRoleId)
  }
}

resource diagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: account
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
    targetResourceId: account.id
    groupId: 'account'
    privateDnsZoneId: privateDnsZoneId
  }
}

output id string = account.id
output name string = account.name
output endpoint string = account.properties.endpoint
output chatDeploymentName string = chat.name
output embeddingsDeploymentName string = embeddings.name
