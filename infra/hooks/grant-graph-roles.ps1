# Grants photo-sync's Microsoft Graph application permissions (app roles) to the identity it calls
# Graph with: the user-assigned managed identity by default, or the app registration's service
# principal in the client_secret and certificate modes. Safe to run again: roles already granted
# are left alone. The PowerShell twin of grant-graph-roles.sh; see there for the inputs.
#
# Who can run it: a Privileged Role Administrator or Global Administrator (granting application
# permissions is admin consent).
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

$roles = @("$env:PHOTO_GRAPH_APP_ROLES".Split(' ', [StringSplitOptions]::RemoveEmptyEntries))
$grantee = "$env:PHOTO_GRAPH_GRANTEE_PRINCIPAL_ID"
$granteeApp = "$env:PHOTO_GRAPH_GRANTEE_APP_ID"

if ($roles.Count -eq 0) {
    Write-Host 'photo-sync: no Microsoft Graph app roles to grant (PHOTO_GRAPH_APP_ROLES is empty).'
    Write-Host "photo-sync: with PHOTO_API_DIALECT=outlook, grant the photo API's permissions yourself."
    exit 0
}

# Microsoft Graph has the same application id in every cloud; its host differs per cloud.
$graphAppId = '00000003-0000-0000-c000-000000000000'
$graph = (az cloud show --query endpoints.microsoftGraphResourceId -o tsv).TrimEnd('/')

function Get-Graph([string] $Path, [string] $Query) {
    $value = az rest --method get --only-show-errors --url "$graph/v1.0/$Path" --query $Query -o tsv 2>$null
    if ($LASTEXITCODE -ne 0) { return $null }
    return $value
}

# A new identity can take a minute to appear in Microsoft Graph.
for ($attempt = 1; ; $attempt++) {
    if ($grantee) {
        if (Get-Graph "servicePrincipals/$grantee" 'id') { break }
    } elseif ($granteeApp) {
        $grantee = Get-Graph "servicePrincipals(appId='$granteeApp')" 'id'
        if ($grantee) { break }
    } else {
        Write-Error 'photo-sync: set PHOTO_GRAPH_GRANTEE_PRINCIPAL_ID or PHOTO_GRAPH_GRANTEE_APP_ID.'
    }
    if ($attempt -ge 12) {
        Write-Error "photo-sync: the service principal to grant to was not found in Microsoft Graph ($grantee$granteeApp)."
    }
    Start-Sleep -Seconds 10
}

$graphSp = Get-Graph "servicePrincipals(appId='$graphAppId')" 'id'
$granted = @(Get-Graph "servicePrincipals/$grantee/appRoleAssignments" "value[?resourceId=='$graphSp'].appRoleId")

$newGrants = 0
foreach ($role in $roles) {
    $roleId = Get-Graph "servicePrincipals/$graphSp`?`$select=appRoles" "appRoles[?value=='$role' && contains(allowedMemberTypes, 'Application')].id | [0]"
    if (-not $roleId) {
        Write-Error "photo-sync: Microsoft Graph has no application permission named $role."
    }
    if ($granted -contains $roleId) {
        Write-Host "photo-sync: $role is already granted."
        continue
    }
    $body = @{ principalId = $grantee; resourceId = $graphSp; appRoleId = $roleId } | ConvertTo-Json -Compress
    $bodyFile = New-TemporaryFile
    try {
        Set-Content -Path $bodyFile -Value $body -NoNewline
        az rest --method post --only-show-errors -o none `
            --url "$graph/v1.0/servicePrincipals/$grantee/appRoleAssignments" `
            --headers Content-Type=application/json --body "@$bodyFile"
        if ($LASTEXITCODE -ne 0) {
            Write-Host @"
photo-sync: could not grant $role. Granting Microsoft Graph application permissions needs a
Privileged Role Administrator or Global Administrator. Ask one to run, with the same environment:
    `$env:PHOTO_GRAPH_APP_ROLES='$($roles -join ' ')'; `$env:PHOTO_GRAPH_GRANTEE_PRINCIPAL_ID='$grantee'; ./infra/hooks/grant-graph-roles.ps1
then run the postdeploy step again (azd hooks run postdeploy).
"@
            exit 1
        }
    } finally {
        Remove-Item -Path $bodyFile -Force
    }
    Write-Host "photo-sync: granted $role."
    $newGrants++
}

if ($newGrants -gt 0) {
    Write-Host 'photo-sync: tokens the identity already holds predate the grant; the first token issued'
    Write-Host "photo-sync: after it carries the roles (a managed identity's token can be cached for hours)."
}
exit 0
