// Amagasaki City Teams assistant: everything it needs in one resource group.
//   azd up                                   (azure.yaml at the repository root; see docs/deploy.md)
//   az deployment group create -g <rg> -f infra/main.bicep -p infra/main.parameters.json ...
// One user-assigned managed identity carries every credential: Bot Framework auth (UserAssignedMSI),
// Azure OpenAI (keys disabled), Key Vault references, ACR pulls, and Graph app roles granted by an admin.
targetScope = 'resourceGroup'

@minLength(1)
@maxLength(64)
@description('azd environment name; seeds resource names and tags.')
param environmentName string

@description('Region for all regional resources.')
param location string = resourceGroup().location

@description('Region for Azure OpenAI (model availability differs by region).')
param openAiLocation string = location

@description('Object id of the operator running the deployment (azd: AZURE_PRINCIPAL_ID); gets Key Vault Secrets Officer.')
param principalId string = ''

@allowed([
  'User'
  'Group'
  'ServicePrincipal'
])
param principalType string = 'User'

// ---- Network ----
@description('Closed (LGWAN-style) deployment: VNet integration for the app, private endpoints for Key Vault, Azure OpenAI, PostgreSQL and the registry, their public endpoints disabled.')
param enablePrivateEndpoints bool = false

param vnetAddressPrefix string = '10.60.0.0/16'
param appSubnetPrefix string = '10.60.1.0/24'
param privateEndpointSubnetPrefix string = '10.60.2.0/24'

@description('Only admit inbound traffic tagged AzureBotService. Check that Teams traffic arrives that way in your tenant before enabling.')
param restrictInboundToBotService bool = false

// ---- App Service ----
param appServiceSkuName string = 'P1v3'

@minValue(2)
@description('Instances always running (at least 2: a health-check failure or a platform upgrade never leaves zero).')
param minimumInstances int = 2

@minValue(2)
param maximumInstances int = 6

@description('Spread App Service instances over availability zones (needs a region with zones, e.g. japaneast).')
param zoneRedundant bool = true

@description('Image to run (azd sets SERVICE_BOT_IMAGE_NAME after the first deploy so a re-provision keeps it).')
param botImageName string = ''

// ---- PostgreSQL ----
param postgresVersion string = '16'
param postgresSkuName string = 'Standard_D2ds_v5'

@allowed([
  'Burstable'
  'GeneralPurpose'
  'MemoryOptimized'
])
param postgresSkuTier string = 'GeneralPurpose'

param postgresStorageSizeGB int = 64

@minValue(7)
@maxValue(35)
param postgresBackupRetentionDays int = 14

param postgresGeoRedundantBackup bool = false

@description('Zone-redundant high availability (a standby in another zone; doubles the server cost).')
param postgresHighAvailability bool = false

param postgresAdminLogin string = 'assistantadmin'

@secure()
@description('PostgreSQL administrator password. azd: $(secretOrRandomPassword ...) in main.parameters.json. Stored in Key Vault, never in app settings.')
param postgresAdminPassword string

@description('Optional Entra group (object id) that administers PostgreSQL.')
param postgresEntraAdminObjectId string = ''
param postgresEntraAdminName string = ''

// ---- Azure OpenAI ----
param chatModelName string = 'gpt-4o-mini'
param chatModelVersion string = '2024-07-18'
param chatCapacity int = 30
param embeddingsModelName string = 'text-embedding-3-small'
param embeddingsModelVersion string = '1'
param embeddingsCapacity int = 30

@allowed([
  'Standard'
  'GlobalStandard'
  'DataZoneStandard'
])
@description('Standard processes prompts in the account\'s region (data stays in Japan with japaneast).')
param openAiDeploymentSku string = 'Standard'

param openAiApiVersion string = '2024-10-21'

// ---- Application ----
param botDisplayName string = '尼崎市 AI アシスタント'

@description('Tenants allowed to talk to the bot (comma separated); default: this tenant only.')
param allowedTenantIds string = ''

@description('Client id used for app-only Graph calls; default: the managed identity (grant it Graph app roles, see docs/deploy.md).')
param graphClientId string = ''

@description('Mailbox the news digest mails from (Mail.Send is restricted to it by an application access policy).')
param newsMailSender string = ''

@description('App settings resolved from Key Vault: setting name -> secret name, e.g. {"KINTONE_API_TOKEN": "kintone-api-token"}. Create each secret before relying on it.')
param keyVaultSecretSettings object = {}

@description('Further non-secret app settings: name -> value.')
param extraAppSettings object = {}

@minValue(30)
@maxValue(730)
param logRetentionDays int = 90

@description('Require Entra auth for Application Insights ingestion (only when the app passes its credential to the exporter).')
param appInsightsDisableLocalAuth bool = false

var abbrs = loadJsonContent('abbreviations.json')
var resourceToken = toLower(uniqueString(subscription().id, resourceGroup().id, environmentName))
var tags = {
  'azd-env-name': environmentName
  application: 'amagasaki-teams-assistant'
}

var keyVaultName = '${abbrs.keyVaultVaults}${resourceToken}'
var databaseUrlSecretName = 'database-url'
var postgresPasswordSecretName = 'postgresAdminPassword'
var tenantId = subscription().tenantId

module identity 'modules/identity.bicep' = {
  name: 'identity'
  params: {
    name: '${abbrs.managedIdentityUserAssignedIdentities}${resourceToken}'
    location: location
    tags: tags
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    logAnalyticsName: '${abbrs.operationalInsightsWorkspaces}${resourceToken}'
    applicationInsightsName: '${abbrs.insightsComponents}${resourceToken}'
    location: location
    tags: tags
    retentionInDays: logRetentionDays
    disableLocalAuth: appInsightsDisableLocalAuth
  }
}

module network 'modules/network.bicep' = if (enablePrivateEndpoints) {
  name: 'network'
  params: {
    vnetName: '${abbrs.networkVirtualNetworks}${resourceToken}'
    location: location
    tags: tags
    addressPrefix: vnetAddressPrefix
    appSubnetPrefix: appSubnetPrefix
    privateEndpointSubnetPrefix: privateEndpointSubnetPrefix
    nsgPrefix: abbrs.networkNetworkSecurityGroups
  }
}

module keyVault 'modules/keyvault.bicep' = {
  name: 'keyvault'
  params: {
    name: keyVaultName
    location: location
    tags: tags
    enablePrivateEndpoints: enablePrivateEndpoints
    privateEndpointSubnetId: enablePrivateEndpoints ? network.outputs.privateEndpointSubnetId : ''
    privateDnsZoneId: enablePrivateEndpoints ? network.outputs.vaultDnsZoneId : ''
    logAnalyticsWorkspaceId: monitoring.outputs.logAnalyticsWorkspaceId
    readerPrincipalId: identity.outputs.principalId
    officerPrincipalId: principalId
    officerPrincipalType: principalType
  }
}

module postgres 'modules/postgres.bicep' = {
  name: 'postgres'
  params: {
    name: '${abbrs.dBforPostgreSQLServers}${resourceToken}'
    location: location
    tags: tags
    version: postgresVersion
    skuName: postgresSkuName
    skuTier: postgresSkuTier
    storageSizeGB: postgresStorageSizeGB
    backupRetentionDays: postgresBackupRetentionDays
    geoRedundantBackup: postgresGeoRedundantBackup
    enableHighAvailability: postgresHighAvailability
    administratorLogin: postgresAdminLogin
    administratorLoginPassword: postgresAdminPassword
    entraAdminObjectId: postgresEntraAdminObjectId
    entraAdminName: postgresEntraAdminName
    enablePrivateEndpoints: enablePrivateEndpoints
    privateEndpointSubnetId: enablePrivateEndpoints ? network.outputs.privateEndpointSubnetId : ''
    privateDnsZoneId: enablePrivateEndpoints ? network.outputs.postgresDnsZoneId : ''
    logAnalyticsWorkspaceId: monitoring.outputs.logAnalyticsWorkspaceId
  }
}

// The admin password is kept so that azd's secretOrRandomPassword reads the same one back on the next run.
module postgresPasswordSecret 'modules/keyvault-secret.bicep' = {
  name: 'secret-postgres-password'
  params: {
    vaultName: keyVault.outputs.name
    name: postgresPasswordSecretName
    value: postgresAdminPassword
  }
}

module databaseUrlSecret 'modules/keyvault-secret.bicep' = {
  name: 'secret-database-url'
  params: {
    vaultName: keyVault.outputs.name
    name: databaseUrlSecretName
    value: 'postgresql+asyncpg://${postgresAdminLogin}:${uriComponent(postgresAdminPassword)}@${postgres.outputs.fqdn}:5432/${postgres.outputs.databaseName}?ssl=require'
    contentType: 'application/x-sqlalchemy-url'
  }
}

module openAi 'modules/openai.bicep' = {
  name: 'openai'
  params: {
    name: '${abbrs.cognitiveServicesAccounts}${resourceToken}'
    location: openAiLocation
    tags: tags
    chatDeploymentName: chatModelName
    chatModelName: chatModelName
    chatModelVersion: chatModelVersion
    chatCapacity: chatCapacity
    embeddingsDeploymentName: embeddingsModelName
    embeddingsModelName: embeddingsModelName
    embeddingsModelVersion: embeddingsModelVersion
    embeddingsCapacity: embeddingsCapacity
    deploymentSkuName: openAiDeploymentSku
    userPrincipalId: identity.outputs.principalId
    enablePrivateEndpoints: enablePrivateEndpoints
    privateEndpointSubnetId: enablePrivateEndpoints ? network.outputs.privateEndpointSubnetId : ''
    privateDnsZoneId: enablePrivateEndpoints ? network.outputs.openAiDnsZoneId : ''
    logAnalyticsWorkspaceId: monitoring.outputs.logAnalyticsWorkspaceId
  }
}

module registry 'modules/registry.bicep' = {
  name: 'registry'
  params: {
    name: '${abbrs.containerRegistryRegistries}${resourceToken}'
    location: location
    tags: tags
    pullPrincipalId: identity.outputs.principalId
    enablePrivateEndpoints: enablePrivateEndpoints
    privateEndpointSubnetId: enablePrivateEndpoints ? network.outputs.privateEndpointSubnetId : ''
    privateDnsZoneId: enablePrivateEndpoints ? network.outputs.registryDnsZoneId : ''
    logAnalyticsWorkspaceId: monitoring.outputs.logAnalyticsWorkspaceId
  }
}

// App settings. Secrets appear only as Key Vault references; identity replaces every key it can.
var baseAppSettings = [
  {
    name: 'HOST'
    value: '0.0.0.0'
  }
  {
    name: 'PORT'
    value: '3978'
  }
  {
    name: 'WEBSITES_PORT'
    value: '3978'
  }
  {
    name: 'WEBSITES_ENABLE_APP_SERVICE_STORAGE'
    value: 'false'
  }
  {
    // take an instance out of the load balancer after 3 failed /healthz pings (one a minute)
    name: 'WEBSITE_HEALTHCHECK_MAXPINGFAILURES'
    value: '3'
  }
  {
    name: 'LOG_FORMAT'
    value: 'json'
  }
  {
    name: 'MicrosoftAppType'
    value: 'UserAssignedMSI'
  }
  {
    name: 'MicrosoftAppId'
    value: identity.outputs.clientId
  }
  {
    name: 'MicrosoftAppTenantId'
    value: identity.outputs.tenantId
  }
  {
    name: 'AZURE_CLIENT_ID'
    value: identity.outputs.clientId
  }
  {
    name: 'DATABASE_URL'
    value: '@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=${databaseUrlSecretName})'
  }
  {
    name: 'AZURE_OPENAI_ENDPOINT'
    value: openAi.outputs.endpoint
  }
  {
    name: 'AZURE_OPENAI_DEPLOYMENT'
    value: openAi.outputs.chatDeploymentName
  }
  {
    name: 'OPENAI_API_VERSION'
    value: openAiApiVersion
  }
  {
    name: 'EMBEDDINGS_MODEL'
    value: openAi.outputs.embeddingsDeploymentName
  }
  {
    name: 'APPLICATIONINSIGHTS_CONNECTION_STRING'
    value: monitoring.outputs.applicationInsightsConnectionString
  }
  {
    name: 'ALLOWED_TENANT_IDS'
    value: empty(allowedTenantIds) ? tenantId : allowedTenantIds
  }
  {
    name: 'GRAPH_TENANT_ID'
    value: tenantId
  }
  {
    name: 'GRAPH_CLIENT_ID'
    value: empty(graphClientId) ? identity.outputs.clientId : graphClientId
  }
  {
    name: 'NEWS_MAIL_SENDER'
    value: newsMailSender
  }
]

var secretAppSettings = [for setting in items(keyVaultSecretSettings): {
  name: setting.key
  value: '@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=${setting.value})'
}]

var extraAppSettingsList = [for setting in items(extraAppSettings): {
  name: setting.key
  value: string(setting.value)
}]

module web 'modules/appservice.bicep' = {
  name: 'web'
  params: {
    planName: '${abbrs.webServerFarms}${resourceToken}'
    appName: '${abbrs.webSitesAppService}${resourceToken}'
    location: location
    tags: tags
    skuName: appServiceSkuName
    minimumInstances: minimumInstances
    maximumInstances: maximumInstances
    zoneRedundant: zoneRedundant
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    containerImage: botImageName
    appSettings: concat(baseAppSettings, secretAppSettings, extraAppSettingsList)
    appSubnetId: enablePrivateEndpoints ? network.outputs.appSubnetId : ''
    restrictInboundToBotService: restrictInboundToBotService
    logAnalyticsWorkspaceId: monitoring.outputs.logAnalyticsWorkspaceId
  }
  dependsOn: [
    databaseUrlSecret
    keyVault
  ]
}

module bot 'modules/bot.bicep' = {
  name: 'bot'
  params: {
    name: '${abbrs.botServicesAzureBot}${resourceToken}'
    displayName: botDisplayName
    tags: tags
    endpoint: 'https://${web.outputs.defaultHostName}/api/messages'
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    identityTenantId: identity.outputs.tenantId
    logAnalyticsWorkspaceId: monitoring.outputs.logAnalyticsWorkspaceId
  }
}

// Outputs azd writes into .azure/<env>/.env.
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenantId
output AZURE_RESOURCE_GROUP string = resourceGroup().name
output AZURE_CONTAINER_REGISTRY_ENDPOINT string = registry.outputs.loginServer
output AZURE_CONTAINER_REGISTRY_NAME string = registry.outputs.name
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
output AZURE_KEY_VAULT_ENDPOINT string = keyVault.outputs.uri
output AZURE_OPENAI_ENDPOINT string = openAi.outputs.endpoint
output AZURE_OPENAI_DEPLOYMENT string = openAi.outputs.chatDeploymentName
output EMBEDDINGS_MODEL string = openAi.outputs.embeddingsDeploymentName
output AZURE_MANAGED_IDENTITY_CLIENT_ID string = identity.outputs.clientId
output AZURE_MANAGED_IDENTITY_PRINCIPAL_ID string = identity.outputs.principalId
output MICROSOFT_APP_ID string = identity.outputs.clientId
output POSTGRES_FQDN string = postgres.outputs.fqdn
output SERVICE_BOT_NAME string = web.outputs.name
output SERVICE_BOT_URI string = web.outputs.uri
output WEB_URL string = web.outputs.uri
output BOT_ENDPOINT string = 'https://${web.outputs.defaultHostName}/api/messages'
output BOT_RESOURCE_NAME string = bot.outputs.name
