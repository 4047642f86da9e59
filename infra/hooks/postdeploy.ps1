# The step after the code is deployed; the PowerShell twin of postdeploy.sh (see there for why):
#   1. grant the Microsoft Graph app roles (unless PHOTO_SKIP_GRAPH_GRANT=true);
#   2. wait until the host has created the blobs_extension key (`az functionapp keys list`);
#   3. deploy infra/modules/eventgrid-subscription.bicep, which reads the key with listKeys and
#      subscribes the blob-trigger function to the drop container's BlobCreated events.
# Running it again changes nothing that is already in place.
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

foreach ($name in 'AZURE_RESOURCE_GROUP', 'AZURE_FUNCTION_APP_NAME', 'AZURE_STORAGE_ACCOUNT_NAME', 'EVENTGRID_SYSTEM_TOPIC_NAME') {
    if (-not [Environment]::GetEnvironmentVariable($name)) {
        Write-Error "$name is not set (an output of infra/main.bicep)."
    }
}
$dropContainer = if ($env:PHOTO_DROP_CONTAINER) { $env:PHOTO_DROP_CONTAINER } else { 'hr-photos' }
$deadLetterContainer = if ($env:PHOTO_DEADLETTER_CONTAINER) { $env:PHOTO_DEADLETTER_CONTAINER } else { 'hr-photos-deadletter' }

if ($env:PHOTO_SKIP_GRAPH_GRANT -eq 'true') {
    Write-Host 'photo-sync: skipping the Microsoft Graph grant (PHOTO_SKIP_GRAPH_GRANT=true).'
} else {
    & (Join-Path $PSScriptRoot 'grant-graph-roles.ps1')
    if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
}

Write-Host 'photo-sync: waiting for the function host to register the blob trigger...'
for ($attempt = 1; ; $attempt++) {
    $hasKey = az functionapp keys list --only-show-errors `
        --resource-group $env:AZURE_RESOURCE_GROUP --name $env:AZURE_FUNCTION_APP_NAME `
        --query 'systemKeys.blobs_extension != null' -o tsv 2>$null
    if ($LASTEXITCODE -eq 0 -and $hasKey -eq 'true') { break }
    if ($attempt -ge 30) {
        Write-Error 'photo-sync: the host has not created the blobs_extension key after 5 minutes; check that the code deployed and the host starts (Application Insights, traces).'
    }
    # A request starts an instance if the app has scaled to zero.
    if ($env:PHOTO_HEALTH_URL) {
        try { Invoke-WebRequest -Uri $env:PHOTO_HEALTH_URL -TimeoutSec 30 -SkipHttpErrorCheck | Out-Null } catch { }
    }
    Start-Sleep -Seconds 10
}

Write-Host "photo-sync: subscribing the blob trigger to BlobCreated events of $dropContainer..."
az deployment group create --only-show-errors -o none `
    --resource-group $env:AZURE_RESOURCE_GROUP `
    --name photo-sync-event-subscription `
    --template-file (Join-Path $PSScriptRoot '..' 'modules' 'eventgrid-subscription.bicep') `
    --parameters `
        "systemTopicName=$env:EVENTGRID_SYSTEM_TOPIC_NAME" `
        "functionAppName=$env:AZURE_FUNCTION_APP_NAME" `
        "storageAccountName=$env:AZURE_STORAGE_ACCOUNT_NAME" `
        "dropContainerName=$dropContainer" `
        "deadLetterContainerName=$deadLetterContainer"
if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }

Write-Host "photo-sync: ready. Photos dropped into $dropContainer are synced from now on."
