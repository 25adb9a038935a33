// Closed (LGWAN-style) network: the Web App's outbound traffic enters the VNet (regional VNet integration,
// route all), and Key Vault, Azure OpenAI, PostgreSQL and the registry are reached only through private
// endpoints resolved by privatelink DNS zones linked to this VNet. Deployed only when enablePrivateEndpoints.
param vnetName string
param location string
param tags object = {}
param addressPrefix string = '10.60.0.0/16'
param appSubnetPrefix string = '10.60.1.0/24'
param privateEndpointSubnetPrefix string = '10.60.2.0/24'
param nsgPrefix string = 'nsg-'

// Order matters: the outputs below index this list.
var privateDnsZoneNames = [
  'privatelink.openai.azure.com'
  'privatelink.postgres.database.azure.com'
  'privatelink.azurecr.io'
  'privatelink.vaultcore.azure.net'
]

resource appNsg 'Microsoft.Network/networkSecurityGroups@2024-05-01' = {
  name: '${nsgPrefix}${vnetName}-app'
  location: location
  tags: tags
  properties: {
    securityRules: []
  }
}

resource peNsg 'Microsoft.Network/networkSecurityGroups@2024-05-01' = {
  name: '${nsgPrefix}${vnetName}-pe'
  location: location
  tags: tags
  properties: {
    securityRules: [
      {
        name: 'AllowVnetInbound'
        properties: {
          priority: 100
          direction: 'Inbound'
          access: 'Allow'
          protocol: 'Tcp'
          sourceAddressPrefix: 'VirtualNetwork'
          sourcePortRange: '*'
          destinationAddressPrefix: 'VirtualNetwork'
          destinationPortRanges: [
            '443'
            '5432'
          ]
        }
      }
      {
        name: 'DenyAllInbound'
        properties: {
          priority: 4096
          direction: 'Inbound'
          access: 'Deny'
          protocol: '*'
          sourceAddressPrefix: '*'
          sourcePortRange: '*'
          destinationAddressPrefix: '*'
          destinationPortRange: '*'
        }
      }
    ]
  }
}

resource vnet 'Microsoft.Network/virtualNetworks@2024-05-01' = {
  name: vnetName
  location: location
  tags: tags
  properties: {
    addressSpace: {
      addressPrefixes: [
        addressPrefix
      ]
    }
    subnets: [
      {
        name: 'snet-app'
        properties: {
          addressPrefix: appSubnetPrefix
          networkSecurityGroup: {
            id: appNsg.id
          }
          delegations: [
            {
              name: 'webapp'
              properties: {
                serviceName: 'Microsoft.Web/serverFarms'
              }
            }
          ]
        }
      }
      {
        name: 'snet-pe'
        properties: {
          addressPrefix: privateEndpointSubnetPrefix
          networkSecurityGroup: {
            id: peNsg.id
          }
          privateEndpointNetworkPolicies: 'Enabled'
        }
      }
    ]
  }
}

resource zones 'Microsoft.Network/privateDnsZones@2020-06-01' = [for zone in privateDnsZoneNames: {
  name: zone
  location: 'global'
  tags: tags
}]

resource zoneLinks 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2020-06-01' = [for (zone, i) in privateDnsZoneNames: {
  parent: zones[i]
  name: '${vnetName}-link'
  location: 'global'
  tags: tags
  properties: {
    registrationEnabled: false
    virtualNetwork: {
      id: vnet.id
    }
  }
}]

output vnetId string = vnet.id
output appSubnetId string = vnet.properties.subnets[0].id
output privateEndpointSubnetId string = vnet.properties.subnets[1].id
output openAiDnsZoneId string = zones[0].id
output postgresDnsZoneId string = zones[1].id
output registryDnsZoneId string = zones[2].id
output vaultDnsZoneId string = zones[3].id
