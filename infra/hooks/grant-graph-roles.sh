#!/bin/sh
# Brings photo-sync's Microsoft Graph application permissions (app roles) on the identity it calls
# Graph with (the user-assigned managed identity by default, or the app registration's service
# principal in the client_secret and certificate modes) to what the deployment needs: it grants
# the roles in PHOTO_GRAPH_APP_ROLES that are missing, and removes the roles of
# PHOTO_GRAPH_MANAGED_ROLES that are no longer needed (User.Read.All once employee-id mode is
# off). Roles outside PHOTO_GRAPH_MANAGED_ROLES are never touched. Safe to run again, and
# alongside another run: an assignment the other run made or removed first counts as done.
#
# Who can run it: a Privileged Role Administrator or Global Administrator (granting application
# permissions is admin consent). Everyone else gets a message saying whom to ask.
#
# Inputs (azd puts the Bicep outputs in the environment; without azd, export them yourself):
#   PHOTO_GRAPH_APP_ROLES             space-separated role values, e.g. "ProfilePhoto.ReadWrite.All"
#   PHOTO_GRAPH_MANAGED_ROLES         every role photo-sync may grant (default: the roles above,
#                                     so nothing is removed)
#   PHOTO_GRAPH_TENANT_ID             tenant of the identity (default: AZURE_TENANT_ID); az must be
#                                     signed in to it
#   PHOTO_GRAPH_GRANTEE_PRINCIPAL_ID  object id of the service principal to grant to, or
#   PHOTO_GRAPH_GRANTEE_APP_ID        client id of an app registration whose service principal gets them
#   AZURE_SUBSCRIPTION_ID             (as an azd hook) selected first, so az's tenant is azd's
set -eu

here=$(cd "$(dirname "$0")" && pwd)
. "$here/azure-context.sh"

roles=${PHOTO_GRAPH_APP_ROLES-}
managed=${PHOTO_GRAPH_MANAGED_ROLES-$roles}
poll_seconds=${PHOTO_HOOK_POLL_SECONDS:-10}
grantee=${PHOTO_GRAPH_GRANTEE_PRINCIPAL_ID-}
grantee_app=${PHOTO_GRAPH_GRANTEE_APP_ID-}
tenant=${PHOTO_GRAPH_TENANT_ID:-${AZURE_TENANT_ID-}}

if [ -z "$roles" ] && [ -z "$managed" ]; then
    echo "photo-sync: no Microsoft Graph app roles to grant (PHOTO_GRAPH_APP_ROLES is empty)."
    echo "photo-sync: with PHOTO_API_DIALECT=outlook, grant the photo API's permissions yourself."
    exit 0
fi
if [ -z "$tenant" ]; then
    echo "photo-sync: set PHOTO_GRAPH_TENANT_ID (or AZURE_TENANT_ID) to the tenant to grant in." >&2
    exit 2
fi
if [ -z "$grantee" ] && [ -z "$grantee_app" ]; then
    echo "photo-sync: set PHOTO_GRAPH_GRANTEE_PRINCIPAL_ID or PHOTO_GRAPH_GRANTEE_APP_ID." >&2
    exit 2
fi

# As an azd hook: azd's subscription first, then (always) the tenant, before any Graph call.
if [ -n "${AZURE_SUBSCRIPTION_ID-}" ]; then
    use_deployment_subscription || exit 1
fi
require_tenant "$tenant" "the identity to grant Microsoft Graph roles to" || exit 1

# Microsoft Graph has the same application id in every cloud; its host differs per cloud.
graph_app_id=00000003-0000-0000-c000-000000000000
graph=$(az cloud show --query endpoints.microsoftGraphResourceId -o tsv)
graph=${graph%/}

graph_get() {
    az rest --method get --only-show-errors --url "$graph/v1.0/$1" --query "$2" -o tsv
}

# A new identity can take a minute to appear in Microsoft Graph: wait_for_sp PATH prints the id
# of the service principal at PATH once Graph shows it, and fails after 12 polls.
wait_for_sp() {
    attempt=0
    until found=$(graph_get "$1" id 2>/dev/null) && [ -n "$found" ]; do
        attempt=$((attempt + 1))
        if [ "$attempt" -ge 12 ]; then
            return 1
        fi
        sleep "$poll_seconds"
    done
    printf '%s\n' "$found"
}

if [ -z "$grantee" ]; then
    if ! grantee=$(wait_for_sp "servicePrincipals(appId='$grantee_app')"); then
        echo "photo-sync: no service principal for app $grantee_app; create it with: az ad sp create --id $grantee_app" >&2
        exit 1
    fi
elif ! wait_for_sp "servicePrincipals/$grantee" >/dev/null; then
    echo "photo-sync: service principal $grantee not found in Microsoft Graph." >&2
    exit 1
fi

graph_sp=$(graph_get "servicePrincipals(appId='$graph_app_id')" id)

# The grantee's assignments of Graph roles, one "<appRoleId> <assignment id>" a line. Graph
# returns a page at a time, so the listing follows @odata.nextLink to the end; each page comes
# back as its next link (or an empty line) followed by the page's assignments.
list_assignments() {
    url="$graph/v1.0/servicePrincipals/$grantee/appRoleAssignments"
    while [ -n "$url" ]; do
        page=$(az rest --method get --only-show-errors --url "$url" -o tsv --query \
            "[[\"@odata.nextLink\" || ''], value[?resourceId=='$graph_sp'].join(' ', [appRoleId, id])] | []") \
            || return 1
        url=$(printf '%s\n' "$page" | sed -n 1p)
        printf '%s\n' "$page" | sed 1d
    done
}
if ! assignments=$(list_assignments); then
    echo "photo-sync: could not list the app roles of service principal $grantee." >&2
    exit 1
fi

role_id() {
    graph_get "servicePrincipals/$graph_sp?\$select=appRoles" \
        "appRoles[?value=='$1' && contains(allowedMemberTypes, 'Application')].id | [0]"
}

# assignment_of ROLE_ID: the id of the grantee's assignment of that role, if any.
assignment_of() {
    printf '%s\n' "$assignments" | awk -v role="$1" '$1 == role { print $2; exit }'
}

# What a failed Graph write means: "exists" (a concurrent run made it first), "gone" (a
# concurrent run removed it first), "denied" (needs an administrator), or "other".
failure_kind() {
    case $1 in
        *"already exists"*) echo exists ;;
        *Authorization_RequestDenied*|*"Insufficient privileges"*|*Forbidden*) echo denied ;;
        *Request_ResourceNotFound*|*"does not exist"*|*"Not Found"*) echo gone ;;
        *) echo other ;;
    esac
}

needs_admin() {
    cat >&2 <<EOF
photo-sync: could not $1. Granting or removing Microsoft Graph application permissions needs a
Privileged Role Administrator or Global Administrator. Ask one to run, with the same environment:
    PHOTO_GRAPH_TENANT_ID='$tenant' PHOTO_GRAPH_APP_ROLES='$roles' PHOTO_GRAPH_MANAGED_ROLES='$managed' PHOTO_GRAPH_GRANTEE_PRINCIPAL_ID='$grantee' sh infra/hooks/grant-graph-roles.sh
then run the postdeploy step again (azd hooks run postdeploy).
EOF
    exit 1
}

new_grants=0
for role in $roles; do
    id=$(role_id "$role")
    if [ -z "$id" ]; then
        echo "photo-sync: Microsoft Graph has no application permission named $role." >&2
        exit 1
    fi
    if [ -n "$(assignment_of "$id")" ]; then
        echo "photo-sync: $role is already granted."
        continue
    fi
    body=$(printf '{"principalId":"%s","resourceId":"%s","appRoleId":"%s"}' "$grantee" "$graph_sp" "$id")
    if ! failure=$(az rest --method post --only-show-errors -o none \
        --url "$graph/v1.0/servicePrincipals/$grantee/appRoleAssignments" \
        --headers Content-Type=application/json --body "$body" 2>&1); then
        case $(failure_kind "$failure") in
            exists)
                echo "photo-sync: $role is already granted (by a run at the same time)."
                continue ;;
            denied) needs_admin "grant $role" ;;
            *)
                echo "photo-sync: could not grant $role: $(printf '%s\n' "$failure" | head -n 1)" >&2
                exit 1 ;;
        esac
    fi
    echo "photo-sync: granted $role."
    new_grants=$((new_grants + 1))
done

for role in $managed; do
    case " $roles " in *" $role "*) continue ;; esac
    id=$(role_id "$role")
    assignment=$([ -n "$id" ] && assignment_of "$id" || true)
    [ -n "$assignment" ] || continue
    if ! failure=$(az rest --method delete --only-show-errors -o none \
        --url "$graph/v1.0/servicePrincipals/$grantee/appRoleAssignments/$assignment" 2>&1); then
        case $(failure_kind "$failure") in
            gone) ;;
            denied) needs_admin "remove $role, which the deployment no longer needs" ;;
            *)
                echo "photo-sync: could not remove $role: $(printf '%s\n' "$failure" | head -n 1)" >&2
                exit 1 ;;
        esac
    fi
    echo "photo-sync: removed $role (the deployment no longer needs it)."
done

if [ "$new_grants" -gt 0 ]; then
    echo "photo-sync: tokens the identity already holds predate the grant; the first token issued"
    echo "photo-sync: after it carries the roles (a managed identity's token can be cached for hours)."
fi
