// Azure Database for PostgreSQL Flexible Server: the shared store that lets several bot instances run at once
// (conversation references, profiles, digest claims, poller leases). TLS 1.2+ enforced, backups kept,
// zone-redundant HA by parameter. Password auth is on because the app connects with DATABASE_URL (kept in
// Key Vault); Entra auth is on too so that administrators sign in with their own accounts.
param name string
param location string
param tags object = {}
param databaseName string = 'assistant'
param version string = '16'
param skuName string = 'Standard_D2ds_v5'

@allowed([
  'Burstable'
  'GeneralPurpose'
  'MemoryOptimized'
])
param skuTier string = 'GeneralPurpose'

param storageSizeGB int = 64

@minValue(7)
@maxValue(35)
param backupRetentionDays int = 14

param geoRedundantBackup bool = false
param enableHighAvailability bool = false

param administratorLogin string
@secure()
param administratorLoginPassword string

@description('Optional Entra administrator (object id of a group or user) for human access.')
param entraAdminObjectId string = ''
param entraAdminName string = ''

@allowed([
  'Group'
  'User'
  'ServicePrincipal'
])
param entraAdminType string = 'Group'

param enablePrivateEndpoints bool = false
param privateEndpointSubnetId string = ''
param privateDnsZoneId string = ''
param logAnalyticsWorkspaceId string

resource server 'Microsoft.DBforPostgreSQL/flexibleServers@2024-08-01' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: skuName
    tier: skuTier
  }
  properties: {
    version: version
    administratorLogin: administratorLogin
    administratorLoginPassword: administratorLoginPassword
    authConfig: {
      activeDirectoryAuth: 'Enabled'
      passwordAuth: 'Enabled'
      tenantId: subscription().tenantId
    }
    storage: {
      storageSizeGB: storageSizeGB
      autoGrow: 'Enabled'
    }
    backup: {
      backupRetentionDays: backupRetentionDays
      geoRedundantBackup: geoRedundantBackup ? 'Enabled' : 'Disabled'
    }
    highAvailability: {
      mode: enableHighAvailability ? 'ZoneRedundant' : 'Disabled'
    }
    network: {
      publicNetworkAccess: enablePrivateEndpoints ? 'Disabled' : 'Enabled'
    }
  }
}

resource requireTls 'Microsoft.DBforPostgreSQL/flexibleServers/configurations@2024-08-01' = {
  parent: server
  name: 'require_secure_transport'
  properties: {
    value: 'ON'
    source: 'user-override'
  }
}

resource minTls 'Microsoft.DBforPostgreSQL/flexibleServers/configurations@2024-08-01' = {
  parent: server
  name: 'ssl_min_protocol_version'
  properties: {
    value: 'TLSv1.2'
    source: 'user-override'
  }
  dependsOn: [
    requireTls
  ]
}

resource logConnections 'Microsoft.DBforPostgreSQL/flexibleServers/configurations@2024-08-01' = {
  parent: server
  name: 'log_connections'
  properties: {
    value: 'on'
    source: 'user-override'
  }
  dependsOn: [
    minTls
  ]
}

resource logCheckpoints 'Microsoft.DBforPostgreSQL/flexibleServers/configurations@2024-08-01' = {
  parent: server
  name: 'log_checkpoints'
  properties: {
    value: 'on'
    source: 'user-override'
  }
  dependsOn: [
    logConnections
  ]
}

resource database 'Microsoft.DBforPostgreSQL/flexibleServers/databases@2024-08-01' = {
  parent: server
  name: databaseName
  properties: {
    charset: 'UTF8'
    collation: 'en_US.utf8'
  }
  dependsOn: [
    logCheckpoints
  ]
}

resource entraAdmin 'Microsoft.DBforPostgreSQL/flexibleServers/administrators@2024-08-01' = if (!empty(entraAdminObjectId)) {
  parent: server
  name: empty(entraAdminObjectId) ? 'none' : entraAdminObjectId
  properties: {
    principalName: entraAdminName
    principalType: entraAdminType
    tenantId: subscription().tenantId
  }
  dependsOn: [
    database
  ]
}

// Public mode only: admit Azure-internal sources (App Service outbound addresses are not known before the app
// exists). Every connection still needs TLS and the password. Closed mode uses the private endpoint instead.
resource allowAzure 'Microsoft.DBforPostgreSQL/flexibleServers/firewallRules@2024-08-01' = if (!enablePrivateEndpoints) {
  parent: server
  name: 'AllowAzureServices'
  properties: {
    startIpAddress: '0.0.0.0'
    endIpAddress: '0.0.0.0'
  }
  dependsOn: [
    database
  ]
}

resource diagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: server
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

module privateEndpoint 'private-endpoint.bicep' = if (enablePrivateEndpoints) {
  name: 'pe-${name}'
  params: {
    name: 'pep-${name}'
    location: location
    tags: tags
    subnetId: privateEndpointSubnetId
    targetResourceId: server.id
    groupId: 'postgresqlServer'
    privateDnsZoneId: privateDnsZoneId
  }
}

output id string = server.id
output name string = server.name
output fqdn string = server.properties.fullyQualifiedDomainName
output databaseName string = database.name
