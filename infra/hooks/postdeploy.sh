#!/bin/sh
# The step after the code is deployed (azd runs it as the postdeploy hook; without azd, run it
# yourself with the deployment's outputs exported):
#   0. make the deployment's subscription (AZURE_SUBSCRIPTION_ID) az's, and check that az is signed
#      in to the deployment's tenant (AZURE_TENANT_ID), before any other az call;
#   1. grant the Microsoft Graph app roles (and remove those the deployment no longer needs) to the identity photo-sync signs in as, so that no drop
#      is processed before the permission exists (set PHOTO_SKIP_GRAPH_GRANT=true when an
#      administrator grants them separately with grant-graph-roles.sh);
#   2. wait until the host has created the blobs_extension system key (it does so when it first
#      loads the blob trigger), and with PHOTO_DELETE_ON_BLOB_DELETE=true the eventgrid_extension
#      key too (created when it loads the Event Grid trigger), checking for them with
#      `az functionapp keys list`;
#   3. deploy infra/modules/eventgrid-subscription.bicep, which reads those keys with listKeys and
#      subscribes the blob-trigger function to BlobCreated events of the drop container and, only
#      with PHOTO_DELETE_ON_BLOB_DELETE=true, the photo_deleted function to its BlobDeleted events.
#      The keys themselves never pass through this script. With the option off, a BlobDeleted
#      subscription left by an earlier deployment is removed.
# Deletion sync needs PHOTO_PROCESSED_ACTION=keep and PHOTO_REJECTED_ACTION=keep (photo-sync's own
# deletes and moves must not delete profile photos); the script refuses to go on otherwise.
# Running it again changes nothing that is already in place.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
poll_seconds=${PHOTO_HOOK_POLL_SECONDS:-10}
. "$here/azure-context.sh"

: "${AZURE_SUBSCRIPTION_ID:?AZURE_SUBSCRIPTION_ID is not set (azd sets it; also an output of infra/main.bicep)}"
: "${AZURE_TENANT_ID:?AZURE_TENANT_ID is not set (an output of infra/main.bicep)}"
: "${AZURE_RESOURCE_GROUP:?AZURE_RESOURCE_GROUP is not set (an output of infra/main.bicep)}"
: "${AZURE_FUNCTION_APP_NAME:?AZURE_FUNCTION_APP_NAME is not set (an output of infra/main.bicep)}"
: "${AZURE_STORAGE_ACCOUNT_NAME:?AZURE_STORAGE_ACCOUNT_NAME is not set (an output of infra/main.bicep)}"
: "${EVENTGRID_SYSTEM_TOPIC_NAME:?EVENTGRID_SYSTEM_TOPIC_NAME is not set (an output of infra/main.bicep)}"
drop_container=${PHOTO_DROP_CONTAINER:-hr-photos}
dead_letter_container=${PHOTO_DEADLETTER_CONTAINER:-hr-photos-deadletter}
deletion_subscription=photo-deletions

case ${PHOTO_DELETE_ON_BLOB_DELETE:-false} in
    [Tt]rue) delete_on_blob_delete=true ;;
    *) delete_on_blob_delete=false ;;
esac
if [ "$delete_on_blob_delete" = true ] && \
    { [ "${PHOTO_PROCESSED_ACTION:-keep}" != keep ] || [ "${PHOTO_REJECTED_ACTION:-keep}" != keep ]; }; then
    echo "photo-sync: PHOTO_DELETE_ON_BLOB_DELETE=true needs PHOTO_PROCESSED_ACTION=keep and PHOTO_REJECTED_ACTION=keep" >&2
    echo "photo-sync: (now ${PHOTO_PROCESSED_ACTION:-keep} and ${PHOTO_REJECTED_ACTION:-keep}): photo-sync's own deletes and moves would delete profile photos." >&2
    echo "photo-sync: set both to keep, or turn deletion sync off, then run azd provision and this hook again." >&2
    exit 1
fi
# `null` in backticks is JMESPath's null literal; a bare null would be a lookup of a field named
# "null" that only happens to be missing.
if [ "$delete_on_blob_delete" = true ]; then
    keys_query='systemKeys.blobs_extension != `null` && systemKeys.eventgrid_extension != `null`'
    keys_wanted="blobs_extension and eventgrid_extension keys"
else
    keys_query='systemKeys.blobs_extension != `null`'
    keys_wanted="blobs_extension key"
fi

use_deployment_subscription || exit 1
require_tenant "$AZURE_TENANT_ID" "the deployment" || exit 1

if [ "${PHOTO_SKIP_GRAPH_GRANT:-false}" = "true" ]; then
    echo "photo-sync: skipping the Microsoft Graph grant (PHOTO_SKIP_GRAPH_GRANT=true)."
else
    sh "$here/grant-graph-roles.sh"
fi

echo "photo-sync: waiting for the function host to register its triggers..."
health_url=${PHOTO_HEALTH_URL-}
attempt=0
while :; do
    has_key=$(az functionapp keys list --only-show-errors \
        --resource-group "$AZURE_RESOURCE_GROUP" --name "$AZURE_FUNCTION_APP_NAME" \
        --query "$keys_query" -o tsv 2>/dev/null || true)
    # -o tsv prints a JSON boolean the Python way: True or False.
    case $has_key in [Tt]rue) break ;; esac
    attempt=$((attempt + 1))
    if [ "$attempt" -ge 30 ]; then
        echo "photo-sync: the host has not created the $keys_wanted after 5 minutes." >&2
        echo "photo-sync: check that the code deployed and that the host starts (Application Insights, traces)." >&2
        exit 1
    fi
    # A request starts an instance if the app has scaled to zero.
    if [ -n "$health_url" ] && command -v curl >/dev/null 2>&1; then
        curl -s -o /dev/null --max-time 30 "$health_url" || true
    fi
    sleep "$poll_seconds"
done

echo "photo-sync: subscribing the blob trigger to BlobCreated events of $drop_container..."
if [ "$delete_on_blob_delete" = true ]; then
    echo "photo-sync: ...and photo_deleted to its BlobDeleted events (PHOTO_DELETE_ON_BLOB_DELETE=true)."
fi
az deployment group create --only-show-errors -o none \
    --resource-group "$AZURE_RESOURCE_GROUP" \
    --name photo-sync-event-subscription \
    --template-file "$here/../modules/eventgrid-subscription.bicep" \
    --parameters \
        systemTopicName="$EVENTGRID_SYSTEM_TOPIC_NAME" \
        functionAppName="$AZURE_FUNCTION_APP_NAME" \
        storageAccountName="$AZURE_STORAGE_ACCOUNT_NAME" \
        dropContainerName="$drop_container" \
        deadLetterContainerName="$dead_letter_container" \
        deleteProfilePhotoOnBlobDelete="$delete_on_blob_delete"

if [ "$delete_on_blob_delete" = false ]; then
    # Turned off after it was on: remove the BlobDeleted subscription (a deployment never deletes).
    leftover=$(az eventgrid system-topic event-subscription list --only-show-errors \
        --resource-group "$AZURE_RESOURCE_GROUP" --system-topic-name "$EVENTGRID_SYSTEM_TOPIC_NAME" \
        --query "[?name=='$deletion_subscription'].id" -o tsv)
    if [ -n "$leftover" ]; then
        echo "photo-sync: removing the BlobDeleted subscription (PHOTO_DELETE_ON_BLOB_DELETE is off)..."
        az resource delete --only-show-errors --ids "$leftover" --api-version 2025-02-15
    fi
fi

echo "photo-sync: ready. Photos dropped into $drop_container are synced from now on."
if [ "$delete_on_blob_delete" = true ]; then
    echo "photo-sync: deleting the drop a user's current photo came from deletes that profile photo."
fi
