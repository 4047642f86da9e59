# Dot-sourced by postdeploy.ps1 and grant-graph-roles.ps1 (not run on its own); the PowerShell twin
# of azure-context.sh: pins az to the deployment's subscription and checks az's tenant, so that no
# az call lands in another subscription and no Microsoft Graph call goes to another directory
# (`az rest` asks for its Graph token in the tenant of az's current subscription).

# Makes AZURE_SUBSCRIPTION_ID (azd's, and a deployment output) az's subscription, or stops with
# one line saying why it cannot.
function Use-DeploymentSubscription {
    az account set --only-show-errors --subscription $env:AZURE_SUBSCRIPTION_ID 2>$null | Out-Null
    if ($LASTEXITCODE -ne 0) {
        $tenant = if ($env:AZURE_TENANT_ID) { $env:AZURE_TENANT_ID } else { '<AZURE_TENANT_ID>' }
        [Console]::Error.WriteLine("photo-sync: az cannot select subscription $($env:AZURE_SUBSCRIPTION_ID) (azd's): sign in to its tenant with: az login --tenant $tenant")
        exit 1
    }
}

# Stops with one line naming both tenants unless az is signed in to $Tenant.
function Assert-AzTenant([string] $Tenant, [string] $What) {
    $current = az account show --only-show-errors --query tenantId -o tsv 2>$null
    if ($LASTEXITCODE -ne 0 -or -not $current) { $current = '(none)' }
    if ($current -ne $Tenant) {
        [Console]::Error.WriteLine("photo-sync: az is signed in to tenant $current, but $What is in tenant ${Tenant}: run az login --tenant $Tenant")
        exit 1
    }
}
