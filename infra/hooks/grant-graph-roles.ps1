# Brings photo-sync's Microsoft Graph application permissions (app roles) on the identity it calls
# Graph with to what the deployment needs: grants the missing roles of PHOTO_GRAPH_APP_ROLES and
# removes the roles of PHOTO_GRAPH_MANAGED_ROLES it no longer needs; roles outside that set are
# never touched. Safe to run again, and alongside another run. The PowerShell twin of
# grant-graph-roles.sh; see there for the inputs.
#
# Who can run it: a Privileged Role Administrator or Global Administrator (granting application
# permissions is admin consent).
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
. (Join-Path $PSScriptRoot 'azure-context.ps1')
$pollSeconds = if ($env:PHOTO_HOOK_POLL_SECONDS) { [int]$env:PHOTO_HOOK_POLL_SECONDS } else { 10 }

$roles = @("$env:PHOTO_GRAPH_APP_ROLES".Split(' ', [StringSplitOptions]::RemoveEmptyEntries))
$managedText = if ($null -ne $env:PHOTO_GRAPH_MANAGED_ROLES) { $env:PHOTO_GRAPH_MANAGED_ROLES } else { "$env:PHOTO_GRAPH_APP_ROLES" }
$managed = @($managedText.Split(' ', [StringSplitOptions]::RemoveEmptyEntries))
$grantee = "$env:PHOTO_GRAPH_GRANTEE_PRINCIPAL_ID"
$granteeApp = "$env:PHOTO_GRAPH_GRANTEE_APP_ID"
$tenant = if ($env:PHOTO_GRAPH_TENANT_ID) { $env:PHOTO_GRAPH_TENANT_ID } else { "$env:AZURE_TENANT_ID" }

if ($roles.Count -eq 0 -and $managed.Count -eq 0) {
    Write-Host 'photo-sync: no Microsoft Graph app roles to grant (PHOTO_GRAPH_APP_ROLES is empty).'
    Write-Host "photo-sync: with PHOTO_API_DIALECT=outlook, grant the photo API's permissions yourself."
    exit 0
}
if (-not $tenant) {
    [Console]::Error.WriteLine('photo-sync: set PHOTO_GRAPH_TENANT_ID (or AZURE_TENANT_ID) to the tenant to grant in.')
    exit 2
}
if (-not $grantee -and -not $granteeApp) {
    [Console]::Error.WriteLine('photo-sync: set PHOTO_GRAPH_GRANTEE_PRINCIPAL_ID or PHOTO_GRAPH_GRANTEE_APP_ID.')
    exit 2
}

# As an azd hook: azd's subscription first, then (always) the tenant, before any Graph call.
if ($env:AZURE_SUBSCRIPTION_ID) { Use-DeploymentSubscription }
Assert-AzTenant $tenant 'the identity to grant Microsoft Graph roles to'

# Microsoft Graph has the same application id in every cloud; its host differs per cloud.
$graphAppId = '00000003-0000-0000-c000-000000000000'
$graph = (az cloud show --query endpoints.microsoftGraphResourceId -o tsv).TrimEnd('/')

# A Graph GET as an object (PowerShell reads the JSON itself), or $null when it fails.
function Get-Graph([string] $Url) {
    $json = az rest --method get --only-show-errors --url $Url -o json 2>$null
    if ($LASTEXITCODE -ne 0) { return $null }
    return ($json | Out-String | ConvertFrom-Json)
}

# A Graph write: 'ok', or what its failure means: 'exists' (a concurrent run made it first),
# 'gone' (a concurrent run removed it first), 'denied' (needs an administrator), or the first
# line of the error.
function Invoke-GraphWrite([string[]] $Arguments) {
    $output = & {
        $ErrorActionPreference = 'Continue'
        az rest --only-show-errors -o none @Arguments 2>&1 | Out-String
    }
    if ($LASTEXITCODE -eq 0) { return 'ok' }
    if ($output -match 'already exists') { return 'exists' }
    if ($output -match 'Authorization_RequestDenied|Insufficient privileges|Forbidden') { return 'denied' }
    if ($output -match 'Request_ResourceNotFound|does not exist|Not Found') { return 'gone' }
    return ($output.Trim() -split "`n")[0]
}

function Stop-NeedsAdmin([string] $What) {
    [Console]::Error.WriteLine(@"
photo-sync: could not $What. Granting or removing Microsoft Graph application permissions needs a
Privileged Role Administrator or Global Administrator. Ask one to run, with the same environment:
    `$env:PHOTO_GRAPH_TENANT_ID='$tenant'; `$env:PHOTO_GRAPH_APP_ROLES='$($roles -join ' ')'; `$env:PHOTO_GRAPH_MANAGED_ROLES='$($managed -join ' ')'; `$env:PHOTO_GRAPH_GRANTEE_PRINCIPAL_ID='$grantee'; ./infra/hooks/grant-graph-roles.ps1
then run the postdeploy step again (azd hooks run postdeploy).
"@)
    exit 1
}

# A new identity can take a minute to appear in Microsoft Graph.
for ($attempt = 1; ; $attempt++) {
    if ($grantee) {
        if (Get-Graph "$graph/v1.0/servicePrincipals/$grantee") { break }
    } else {
        $found = Get-Graph "$graph/v1.0/servicePrincipals(appId='$granteeApp')"
        if ($found) { $grantee = $found.id; break }
    }
    if ($attempt -ge 12) {
        [Console]::Error.WriteLine("photo-sync: the service principal to grant to was not found in Microsoft Graph ($grantee$granteeApp).")
        exit 1
    }
    Start-Sleep -Seconds $pollSeconds
}

$graphSp = (Get-Graph "$graph/v1.0/servicePrincipals(appId='$graphAppId')").id
$appRoles = @((Get-Graph "$graph/v1.0/servicePrincipals/$graphSp`?`$select=appRoles").appRoles |
    Where-Object { $_.allowedMemberTypes -contains 'Application' })

# The grantee's assignments of Graph roles; Graph returns a page at a time, so the listing
# follows @odata.nextLink to the end.
$assignments = @()
$url = "$graph/v1.0/servicePrincipals/$grantee/appRoleAssignments"
while ($url) {
    $page = Get-Graph $url
    if ($null -eq $page) {
        [Console]::Error.WriteLine("photo-sync: could not list the app roles of service principal $grantee.")
        exit 1
    }
    $assignments += @($page.value | Where-Object { $_.resourceId -eq $graphSp })
    $next = $page.PSObject.Properties['@odata.nextLink']
    $url = if ($next) { $next.Value } else { $null }
}

function Get-RoleId([string] $Role) {
    $found = @($appRoles | Where-Object { $_.value -eq $Role })
    if ($found.Count -gt 0) { return $found[0].id }
    return $null
}

$newGrants = 0
foreach ($role in $roles) {
    $roleId = Get-RoleId $role
    if (-not $roleId) {
        [Console]::Error.WriteLine("photo-sync: Microsoft Graph has no application permission named $role.")
        exit 1
    }
    if (@($assignments | Where-Object { $_.appRoleId -eq $roleId }).Count -gt 0) {
        Write-Host "photo-sync: $role is already granted."
        continue
    }
    $body = @{ principalId = $grantee; resourceId = $graphSp; appRoleId = $roleId } | ConvertTo-Json -Compress
    $bodyFile = New-TemporaryFile
    try {
        Set-Content -Path $bodyFile -Value $body -NoNewline
        $result = Invoke-GraphWrite @('--method', 'post',
            '--url', "$graph/v1.0/servicePrincipals/$grantee/appRoleAssignments",
            '--headers', 'Content-Type=application/json', '--body', "@$bodyFile")
    } finally {
        Remove-Item -Path $bodyFile -Force
    }
    switch ($result) {
        'ok' { Write-Host "photo-sync: granted $role."; $newGrants++ }
        'exists' { Write-Host "photo-sync: $role is already granted (by a run at the same time)." }
        'denied' { Stop-NeedsAdmin "grant $role" }
        default { [Console]::Error.WriteLine("photo-sync: could not grant ${role}: $result"); exit 1 }
    }
}

foreach ($role in $managed) {
    if ($roles -contains $role) { continue }
    $roleId = Get-RoleId $role
    $assignment = @($assignments | Where-Object { $roleId -and $_.appRoleId -eq $roleId }) | Select-Object -First 1
    if (-not $assignment) { continue }
    $result = Invoke-GraphWrite @('--method', 'delete',
        '--url', "$graph/v1.0/servicePrincipals/$grantee/appRoleAssignments/$($assignment.id)")
    switch ($result) {
        { $_ -in 'ok', 'gone' } { Write-Host "photo-sync: removed $role (the deployment no longer needs it)." }
        'denied' { Stop-NeedsAdmin "remove $role, which the deployment no longer needs" }
        default { [Console]::Error.WriteLine("photo-sync: could not remove ${role}: $result"); exit 1 }
    }
}

if ($newGrants -gt 0) {
    Write-Host 'photo-sync: tokens the identity already holds predate the grant; the first token issued'
    Write-Host "photo-sync: after it carries the roles (a managed identity's token can be cached for hours)."
}
exit 0
