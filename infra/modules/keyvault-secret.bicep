// One secret, written through ARM (works with the vault's public endpoint closed).
param vaultName string
param name string
@secure()
param value string
param contentType string = 'text/plain'

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: vaultName
}

resource secret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: name
  properties: {
    value: value
    contentType: contentType
    attributes: {
      enabled: true
    }
  }
}

output name string = secret.name
output uri string = secret.properties.secretUri
