#!/bin/sh
# Grants photo-sync's Microsoft Graph application permissions (app roles) to the identity it calls
# Graph with: the user-assigned managed identity by default, or the app registration's service
# principal in the client_secret and certificate modes. Safe to run again: roles already granted
# are left alone.
#
# Who can run it: a Privileged Role Administrator or Global Administrator (granting application
# permissions is admin consent). Everyone else gets a 403 and a message saying whom to ask.
#
# Inputs (azd puts the Bicep outputs in the environment; without azd, export them yourself):
#   PHOTO_GRAPH_APP_ROLES             space-separated role values, e.g. "ProfilePhoto.ReadWrite.All"
#   PHOTO_GRAPH_GRANTEE_PRINCIPAL_ID  object id of the service principal to grant to, or
#   PHOTO_GRAPH_GRANTEE_APP_ID        client id of an app registration whose service principal gets them
set -eu

roles=${PHOTO_GRAPH_APP_ROLES-}
poll_seconds=${PHOTO_HOOK_POLL_SECONDS:-10}
grantee=${PHOTO_GRAPH_GRANTEE_PRINCIPAL_ID-}
grantee_app=${PHOTO_GRAPH_GRANTEE_APP_ID-}

if [ -z "$roles" ]; then
    echo "photo-sync: no Microsoft Graph app roles to grant (PHOTO_GRAPH_APP_ROLES is empty)."
    echo "photo-sync: with PHOTO_API_DIALECT=outlook, grant the photo API's permissions yourself."
    exit 0
fi

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
    if [ -z "$grantee_app" ]; then
        echo "photo-sync: set PHOTO_GRAPH_GRANTEE_PRINCIPAL_ID or PHOTO_GRAPH_GRANTEE_APP_ID." >&2
        exit 2
    fi
    if ! grantee=$(wait_for_sp "servicePrincipals(appId='$grantee_app')"); then
        echo "photo-sync: no service principal for app $grantee_app; create it with: az ad sp create --id $grantee_app" >&2
        exit 1
    fi
elif ! wait_for_sp "servicePrincipals/$grantee" >/dev/null; then
    echo "photo-sync: service principal $grantee not found in Microsoft Graph." >&2
    exit 1
fi

graph_sp=$(graph_get "servicePrincipals(appId='$graph_app_id')" id)
granted=$(graph_get "servicePrincipals/$grantee/appRoleAssignments" "value[?resourceId=='$graph_sp'].appRoleId")

new_grants=0
for role in $roles; do
    role_id=$(graph_get "servicePrincipals/$graph_sp?\$select=appRoles" \
        "appRoles[?value=='$role' && contains(allowedMemberTypes, 'Application')].id | [0]")
    if [ -z "$role_id" ]; then
        echo "photo-sync: Microsoft Graph has no application permission named $role." >&2
        exit 1
    fi
    if printf '%s\n' "$granted" | grep -qx "$role_id"; then
        echo "photo-sync: $role is already granted."
        continue
    fi
    body=$(printf '{"principalId":"%s","resourceId":"%s","appRoleId":"%s"}' "$grantee" "$graph_sp" "$role_id")
    if ! az rest --method post --only-show-errors -o none \
        --url "$graph/v1.0/servicePrincipals/$grantee/appRoleAssignments" \
        --headers Content-Type=application/json --body "$body"; then
        cat >&2 <<EOF
photo-sync: could not grant $role. Granting Microsoft Graph application permissions needs a
Privileged Role Administrator or Global Administrator. Ask one to run, with the same environment:
    PHOTO_GRAPH_APP_ROLES='$roles' PHOTO_GRAPH_GRANTEE_PRINCIPAL_ID='$grantee' sh infra/hooks/grant-graph-roles.sh
then run the postdeploy step again (azd hooks run postdeploy).
EOF
        exit 1
    fi
    echo "photo-sync: granted $role."
    new_grants=$((new_grants + 1))
done

if [ "$new_grants" -gt 0 ]; then
    echo "photo-sync: tokens the identity already holds predate the grant; the first token issued"
    echo "photo-sync: after it carries the roles (a managed identity's token can be cached for hours)."
fi
