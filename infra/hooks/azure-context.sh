# Sourced by postdeploy.sh and grant-graph-roles.sh (not run on its own): pins az to the
# deployment's subscription and checks az's tenant, so that no az call lands in another
# subscription (az keeps a default of its own, which need not be azd's) and no Microsoft Graph
# call goes to another directory (`az rest` asks for its Graph token in the tenant of az's
# current subscription).

# use_deployment_subscription: makes AZURE_SUBSCRIPTION_ID (azd's, and a deployment output) az's
# subscription, or says in one line why it cannot.
use_deployment_subscription() {
    if ! az account set --only-show-errors --subscription "$AZURE_SUBSCRIPTION_ID" >/dev/null 2>&1; then
        echo "photo-sync: az cannot select subscription $AZURE_SUBSCRIPTION_ID (azd's): sign in to its tenant with: az login --tenant ${AZURE_TENANT_ID:-<AZURE_TENANT_ID>}" >&2
        return 1
    fi
}

# require_tenant TENANT WHAT: succeeds when az is signed in to TENANT; otherwise one line that
# names both tenants, and a failure.
require_tenant() {
    current=$(az account show --only-show-errors --query tenantId -o tsv 2>/dev/null || true)
    if [ "$current" != "$1" ]; then
        echo "photo-sync: az is signed in to tenant ${current:-(none)}, but $2 is in tenant $1: run az login --tenant $1" >&2
        return 1
    fi
}
