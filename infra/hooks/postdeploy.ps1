# The step after the code is deployed; the PowerShell twin of postdeploy.sh (see there for why):
#   0. make AZURE_SUBSCRIPTION_ID az's subscription and check az's tenant against AZURE_TENANT_ID,
#      before any other az call;
#   1. grant the Microsoft Graph app roles, and remove those no longer needed (unless
#      PHOTO_SKIP_GRAPH_GRANT=true);
#   2. wait until the host has created the blobs_extension key, and with
#      PHOTO_DELETE_ON_BLOB_DELETE=true the eventgrid_extension key (`az functionapp keys list`);
#   3. deploy infra/modules/eventgrid-subscription.bicep, which reads the keys with listKeys and
#      subscribes the blob-trigger function to the drop container's BlobCreated events and, only
#      with the option, photo_deleted to its BlobDeleted events; with the option off, a
#      BlobDeleted subscription left by an earlier deployment is removed.
# Deletion sync needs PHOTO_PROCESSED_ACTION=keep and PHOTO_REJECTED_ACTION=keep; the script
# refuses to go on otherwise.
# Running it again changes nothing that is already in place.
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
. (Join-Path $PSScriptRoot 'azure-context.ps1')
$pollSeconds = if ($env:PHOTO_HOOK_POLL_SECONDS) { [int]$env:PHOTO_HOOK_POLL_SECONDS } else { 10 }

foreach ($name in 'AZURE_SUBSCRIPTION_ID', 'AZURE_TENANT_ID', 'AZURE_RESOURCE_GROUP', 'AZURE_FUNCTION_APP_NAME', 'AZURE_STORAGE_ACCOUNT_NAME', 'EVENTGRID_SYSTEM_TOPIC_NAME') {
    if (-not [Environment]::GetEnvironmentVariable($name)) {
        Write-Error "$name is not set (an output of infra/main.bicep)."
    }
}
$dropContainer = if ($env:PHOTO_DROP_CONTAINER) { $env:PHOTO_DROP_CONTAINER } else { 'hr-photos' }
$deadLetterContainer = if ($env:PHOTO_DEADLETTER_CONTAINER) { $env:PHOTO_DEADLETTER_CONTAINER } else { 'hr-photos-deadletter' }
$deletionSubscription = 'photo-deletions'
$deleteOnBlobDelete = $env:PHOTO_DELETE_ON_BLOB_DELETE -eq 'true'  # -eq ignores case
$processedAction = if ($env:PHOTO_PROCESSED_ACTION) { $env:PHOTO_PROCESSED_ACTION } else { 'keep' }
$rejectedAction = if ($env:PHOTO_REJECTED_ACTION) { $env:PHOTO_REJECTED_ACTION } else { 'keep' }
if ($deleteOnBlobDelete -and ($processedAction -ne 'keep' -or $rejectedAction -ne 'keep')) {
    Write-Error "photo-sync: PHOTO_DELETE_ON_BLOB_DELETE=true needs PHOTO_PROCESSED_ACTION=keep and PHOTO_REJECTED_ACTION=keep (now $processedAction and $rejectedAction): photo-sync's own deletes and moves would delete profile photos. Set both to keep, or turn deletion sync off, then run azd provision and this hook again."
}
# `null` in backticks is JMESPath's null literal (a bare null would be a field named "null").
$keysQuery = if ($deleteOnBlobDelete) { 'systemKeys.blobs_extension != `null` && systemKeys.eventgrid_extension != `null`' } else { 'systemKeys.blobs_extension != `null`' }
$keysWanted = if ($deleteOnBlobDelete) { 'blobs_extension and eventgrid_extension keys' } else { 'blobs_extension key' }

Use-DeploymentSubscription
Assert-AzTenant $env:AZURE_TENANT_ID 'the deployment'

if ($env:PHOTO_SKIP_GRAPH_GRANT -eq 'true') {
    Write-Host 'photo-sync: skipping the Microsoft Graph grant (PHOTO_SKIP_GRAPH_GRANT=true).'
} else {
    & (Join-Path $PSScriptRoot 'grant-graph-roles.ps1')
    if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
}

Write-Host 'photo-sync: waiting for the function host to register its triggers...'
for ($attempt = 1; ; $attempt++) {
    $hasKey = az functionapp keys list --only-show-errors `
        --resource-group $env:AZURE_RESOURCE_GROUP --name $env:AZURE_FUNCTION_APP_NAME `
        --query $keysQuery -o tsv 2>$null
    if ($LASTEXITCODE -eq 0 -and $hasKey -eq 'true') { break }
    if ($attempt -ge 30) {
        Write-Error "photo-sync: the host has not created the $keysWanted after 5 minutes; check that the code deployed and the host starts (Application Insights, traces)."
    }
    # A request starts an instance if the app has scaled to zero.
    if ($env:PHOTO_HEALTH_URL) {
        try { Invoke-WebRequest -Uri $env:PHOTO_HEALTH_URL -TimeoutSec 30 -SkipHttpErrorCheck | Out-Null } catch { }
    }
    Start-Sleep -Seconds $pollSeconds
}

Write-Host "photo-sync: subscribing the blob trigger to BlobCreated events of $dropContainer..."
if ($deleteOnBlobDelete) {
    Write-Host 'photo-sync: ...and photo_deleted to its BlobDeleted events (PHOTO_DELETE_ON_BLOB_DELETE=true).'
}
az deployment group create --only-show-errors -o none `
    --resource-group $env:AZURE_RESOURCE_GROUP `
    --name photo-sync-event-subscription `
    --template-file (Join-Path $PSScriptRoot '..' 'modules' 'eventgrid-subscription.bicep') `
    --parameters `
        "systemTopicName=$env:EVENTGRID_SYSTEM_TOPIC_NAME" `
        "functionAppName=$env:AZURE_FUNCTION_APP_NAME" `
        "storageAccountName=$env:AZURE_STORAGE_ACCOUNT_NAME" `
        "dropContainerName=$dropContainer" `
        "deadLetterContainerName=$deadLetterContainer" `
        "deleteProfilePhotoOnBlobDelete=$($deleteOnBlobDelete.ToString().ToLowerInvariant())"
if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }

if (-not $deleteOnBlobDelete) {
    # Turned off after it was on: remove the BlobDeleted subscription (a deployment never deletes).
    $leftover = az eventgrid system-topic event-subscription list --only-show-errors `
        --resource-group $env:AZURE_RESOURCE_GROUP --system-topic-name $env:EVENTGRID_SYSTEM_TOPIC_NAME `
        --query "[?name=='$deletionSubscription'].id" -o tsv
    if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
    if ($leftover) {
        Write-Host 'photo-sync: removing the BlobDeleted subscription (PHOTO_DELETE_ON_BLOB_DELETE is off)...'
        az resource delete --only-show-errors --ids $leftover --api-version 2025-02-15
        if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
    }
}

Write-Host "photo-sync: ready. Photos dropped into $dropContainer are synced from now on."
if ($deleteOnBlobDelete) {
    Write-Host "photo-sync: deleting the drop a user's current photo came from deletes that profile photo."
}
