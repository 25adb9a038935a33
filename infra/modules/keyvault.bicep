// Key Vault: RBAC only (no access policies), soft delete + purge protection, audit logs to Log Analytics.
// With private endpoints on, the public endpoint is closed; App Service resolves Key Vault references through
// its VNet integration.
param name string
param location string
param tags object = {}
param enablePrivateEndpoints bool = false
param privateEndpointSubnetId string = ''
param privateDnsZoneId string = ''
param logAnalyticsWorkspaceId string

@description('Principal (the app identity) that reads secrets at run time: Key Vault Secrets User.')
param readerPrincipalId string

@description('Optional operator principal (user or group object id) that sets secrets: Key Vault Secrets Officer.')
param officerPrincipalId string = ''

@allowed([
  'User'
  'Group'
  'ServicePrincipal'
])
param officerPrincipalType string = 'User'

var secretsUserRoleId = '4633458b-17de-408a-b874-0445c86b69e6' // Key Vault Secrets User
var secretsOfficerRoleId = 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7' // Key Vault Secrets Officer

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
    enabledForDeployment: false
    enabledForDiskEncryption: false
    enabledForTemplateDeployment: false
    publicNetworkAccess: enablePrivateEndpoints ? 'Disabled' : 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: enablePrivateEndpoints ? 'Deny' : 'Allow'
      ipRules: []
      virtualNetworkRules: []
    }
  }
}

resource readerRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, readerPrincipalId, secretsUserRoleId)
  scope: vault
  properties: {
    principalId: readerPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', secretsUserRoleId)
  }
}

resource officerRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(officerPrincipalId)) {
  name: guid(vault.id, officerPrincipalId, secretsOfficerRoleId)
  scope: vault
  properties: {
    principalId: officerPrincipalId
    principalType: officerPrincipalType
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', secretsOfficerRoleId)
  }
}

resource diagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: vault
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
    targetResourceId: vault.id
    groupId: 'vault'
    privateDnsZoneId: privateDnsZoneId
  }
}

output id string = vault.id
output name string = vault.name
output uri string = vault.properties.vaultUri
