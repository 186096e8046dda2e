using AnnexEdge.Logging;
using AnnexEdge.Pipeline;
using AnnexEdge.Protocol;

namespace AnnexEdge.Locking;

/// <summary>
/// In YARP's proxy pipeline, before load balancing: a <c>lockcontent</c> may only go to a replica with a free lock
/// slot. When no replica has one, or the client is over its quota, the edge answers <c>{"locked":false}</c> itself:
/// always safe, as a client never drops on a lock it did not get.
/// </summary>
internal sealed partial class LockBudgetMiddleware(RequestDelegate next, LockLedger ledger, ILogger<LockBudgetMiddleware> logger)
{
    public async Task InvokeAsync(HttpContext context)
    {
        var feature = context.GetP2pRequest();
        if (feature?.Request.Endpoint != P2pEndpoint.LockContent)
        {
            await next(context);
            return;
        }

        var proxy = context.GetReverseProxyFeature();
        var budget = feature.Repository!.MaxLocks;
        var withRoom = proxy.AvailableDestinations.Where(d => ledger.HasRoom(d.DestinationId, budget)).ToArray();
        if (withRoom.Length == 0)
        {
            Log.BudgetFull(logger, feature.Repository.Name, budget);
            await context.AnswerAsync(P2pAnswers.Locked(false));
            return;
        }

        proxy.AvailableDestinations = withRoom;
        await next(context);
    }

    private static partial class Log
    {
        [LoggerMessage(EdgeEventIds.LockRefusedBudget, LogLevel.Warning, "Every backend of {Repository} holds its {MaxLocks} locks: answered locked:false without asking")]
        public static partial void BudgetFull(ILogger logger, string repository, int maxLocks);
    }
}

/// <summary>
/// After load balancing: takes the lock slot on the chosen backend (and the client's quota) before the request is
/// forwarded; the slot is kept if the backend grants the lock (see <c>P2pResponseTransforms</c>) and freed otherwise.
/// </summary>
internal sealed partial class LockReservationMiddleware(RequestDelegate next, LockLedger ledger, ILogger<LockReservationMiddleware> logger)
{
    public async Task InvokeAsync(HttpContext context)
    {
        var feature = context.GetP2pRequest();
        if (feature?.Request.Endpoint != P2pEndpoint.LockContent)
        {
            await next(context);
            return;
        }

        var destinations = context.GetReverseProxyFeature().AvailableDestinations;
        var client = ClientIdentity(context, feature.Request);
        LockSlot? slot = null;
        var refusal = destinations.Count == 0
            ? LockLedger.Refusal.BackendBudget
            : ledger.TryReserve(destinations[0].DestinationId, feature.Repository!.MaxLocks, client, out slot);
        feature.LockSlot = slot;
        if (refusal != LockLedger.Refusal.None)
        {
            if (refusal == LockLedger.Refusal.ClientQuota)
            {
                Log.QuotaFull(logger, client, feature.Repository!.Name);
            }

            await context.AnswerAsync(P2pAnswers.Locked(false));
            return;
        }

        try
        {
            await next(context);
        }
        finally
        {
            if (slot is { IsGranted: false })
            {
                slot.Dispose();
            }
        }
    }

    /// <summary>Who holds a lock, for quotas: the client's repository UUID with its user, or its address.</summary>
    internal static string ClientIdentity(HttpContext context, P2pRequest request) =>
        $"{request.ClientUuid}|{context.User.Identity?.Name ?? context.Connection.RemoteIpAddress?.ToString()}";

    private static partial class Log
    {
        [LoggerMessage(EdgeEventIds.LockRefusedQuota, LogLevel.Warning, "Client {Client} already holds its quota of locks: answered locked:false for {Repository}")]
        public static partial void QuotaFull(ILogger logger, string client, string repository);
    }
}
