// Linux App Service plan + Web App for Containers running `python -m bot`.
// At least two instances (health check takes a sick instance out of rotation; the others keep answering),
// autoscale on CPU, HTTPS only, TLS 1.2+, FTP/basic publishing off, runs as the user-assigned identity.
param planName string
param appName string
param location string
param tags object = {}

param skuName string = 'P1v3'

@minValue(2)
param minimumInstances int = 2

@minValue(2)
param maximumInstances int = 6

@description('Spread instances over availability zones (Premium v3, a region with zones, at least 2 instances).')
param zoneRedundant bool = true

@description('Resource id of the user-assigned identity the app runs as.')
param identityId string
@description('Client id of that identity (ACR pulls, Key Vault references).')
param identityClientId string

@description('Full image reference; empty means a placeholder until `azd deploy` pushes the real one.')
param containerImage string = ''

@description('App settings as [{name, value}] (Key Vault references for secrets, never the secrets).')
param appSettings array = []

param appSubnetId string = ''

@description('Allow inbound traffic only from the AzureBotService service tag (verify with your tenant before use).')
param restrictInboundToBotService bool = false

param logAnalyticsWorkspaceId string

var placeholderImage = 'mcr.microsoft.com/appsvc/staticsite:latest'
var image = empty(containerImage) ? placeholderImage : containerImage
var vnetIntegrated = !empty(appSubnetId)

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'linux'
  sku: {
    name: skuName
    capacity: minimumInstances
  }
  properties: {
    reserved: true
    zoneRedundant: zoneRedundant
  }
}

resource web 'Microsoft.Web/sites@2024-04-01' = {
  name: appName
  location: location
  tags: union(tags, {
    'azd-service-name': 'bot'
  })
  kind: 'app,linux,container'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    clientAffinityEnabled: false
    keyVaultReferenceIdentity: identityId
    virtualNetworkSubnetId: vnetIntegrated ? appSubnetId : null
    vnetRouteAllEnabled: vnetIntegrated
    vnetImagePullEnabled: vnetIntegrated
    publicNetworkAccess: 'Enabled'
    siteConfig: {
      linuxFxVersion: 'DOCKER|${image}'
      appSettings: appSettings
      acrUseManagedIdentityCreds: true
      acrUserManagedIdentityID: identityClientId
      alwaysOn: true
      healthCheckPath: '/healthz'
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      httpLoggingEnabled: true
      detailedErrorLoggingEnabled: true
      requestTracingEnabled: true
      remoteDebuggingEnabled: false
      ipSecurityRestrictionsDefaultAction: restrictInboundToBotService ? 'Deny' : 'Allow'
      ipSecurityRestrictions: restrictInboundToBotService ? [
        {
          name: 'AllowAzureBotService'
          action: 'Allow'
          priority: 100
          tag: 'ServiceTag'
          ipAddress: 'AzureBotService'
        }
      ] : []
      scmIpSecurityRestrictionsUseMain: false
      scmIpSecurityRestrictionsDefaultAction: 'Deny'
    }
  }
}

resource ftpPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: web
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: web
  name: 'scm'
  properties: {
    allow: false
  }
}

resource autoscale 'Microsoft.Insights/autoscalesettings@2022-10-01' = {
  name: 'as-${planName}'
  location: location
  tags: tags
  properties: {
    enabled: true
    targetResourceUri: plan.id
    profiles: [
      {
        name: 'cpu'
        capacity: {
          minimum: string(minimumInstances)
          maximum: string(maximumInstances)
          default: string(minimumInstances)
        }
        rules: [
          {
            metricTrigger: {
              metricName: 'CpuPercentage'
              metricResourceUri: plan.id
              timeGrain: 'PT1M'
              statistic: 'Average'
              timeWindow: 'PT5M'
              timeAggregation: 'Average'
              operator: 'GreaterThan'
              threshold: 70
            }
            scaleAction: {
              direction: 'Increase'
              type: 'ChangeCount'
              value: '1'
              cooldown: 'PT5M'
            }
          }
          {
            metricTrigger: {
              metricName: 'CpuPercentage'
              metricResourceUri: plan.id
              timeGrain: 'PT1M'
              statistic: 'Average'
              timeWindow: 'PT10M'
              timeAggregation: 'Average'
              operator: 'LessThan'
              threshold: 30
            }
            scaleAction: {
              direction: 'Decrease'
              type: 'ChangeCount'
              value: '1'
              cooldown: 'PT10M'
            }
          }
        ]
      }
    ]
  }
}

resource diagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: web
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: [
      {
        category: 'AppServiceHTTPLogs'
        enabled: true
      }
      {
        category: 'AppServiceConsoleLogs'
        enabled: true
      }
      {
        category: 'AppServiceAppLogs'
        enabled: true
      }
      {
        category: 'AppServicePlatformLogs'
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

output id string = web.id
output name string = web.name
output defaultHostName string = web.properties.defaultHostName
output uri string = 'https://${web.properties.defaultHostName}'
output planId string = plan.id
