// The one identity the assistant runs as: Bot Framework auth (UserAssignedMSI), Azure OpenAI, Key Vault
// references, ACR pulls and (optionally) Microsoft Graph application permissions all use it. No client secret exists.
param name string
param location string
param tags object = {}

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output name string = identity.name
output clientId string = identity.properties.clientId
output principalId string = identity.properties.principalId
output tenantId string = identity.properties.tenantId
