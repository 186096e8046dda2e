using AnnexEdge.Logging;
using AnnexEdge.Pipeline;
using AnnexEdge.Protocol;
using AnnexEdge.Routing;
using AnnexEdge.Telemetry;

namespace AnnexEdge.Locking;

/// <summary>
/// In YARP's proxy pipeline, before load balancing: a <c>lockcontent</c> may only go to a replica where this client
/// may take a lock slot (<see cref="LockQuota"/>). When there is none, the edge answers <c>{"locked":false}</c>
/// itself: always safe, as a client never drops on a lock it did not get.
/// </summary>
internal sealed class LockBudgetMiddleware(RequestDelegate next, LockLedger ledger, EdgeMetrics metrics, ILogger<LockBudgetMiddleware> logger)
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
        var repository = feature.Repository!;
        var client = LockPrincipal.Of(context);
        var checks = proxy.AvailableDestinations
            .Select(d => (Destination: d, Refusal: ledger.Check(d.DestinationId, repository.MaxLocks, client)))
            .ToArray();
        var withRoom = checks.Where(c => c.Refusal == LockRefusal.None).Select(c => c.Destination).ToArray();
        if (withRoom.Length == 0)
        {
            // The client's own limit, where it is one, says more than a full backend elsewhere.
            var refusal = checks.Length == 0 ? LockRefusal.BackendBudget : checks.Max(c => c.Refusal);
            LockRefusalLog.Refused(logger, refusal, client, repository, ledger.Quota);
            metrics.LockRefused(repository, refusal);
            await context.AnswerAsync(P2pAnswers.Locked(false));
            return;
        }

        proxy.AvailableDestinations = withRoom;
        await next(context);
    }
}

/// <summary>
/// After load balancing: takes the lock slot on the chosen backend (and the client's quota) before the request is
/// forwarded; the slot is kept if the backend grants the lock (see <c>P2pTransforms</c>) and freed otherwise.
/// </summary>
internal sealed class LockReservationMiddleware(RequestDelegate next, LockLedger ledger, EdgeMetrics metrics, ILogger<LockReservationMiddleware> logger)
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
        var repository = feature.Repository!;
        var client = LockPrincipal.Of(context);
        LockSlot? slot = null;
        var refusal = destinations.Count == 0
            ? LockRefusal.BackendBudget
            : ledger.TryReserve(destinations[0].DestinationId, repository.MaxLocks, client, feature.Request.Key!, out slot);
        feature.LockSlot = slot;
        if (refusal != LockRefusal.None)
        {
            LockRefusalLog.Refused(logger, refusal, client, repository, ledger.Quota);
            metrics.LockRefused(repository, refusal);
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
}

/// <summary>One warning per refused lockcontent, its event id saying which limit refused it.</summary>
internal static partial class LockRefusalLog
{
    public static void Refused(ILogger logger, LockRefusal refusal, LockPrincipal client, Repository repository, LockQuota quota)
    {
        switch (refusal)
        {
            case LockRefusal.BackendBudget:
                BudgetFull(logger, repository.Name, repository.MaxLocks);
                break;
            case LockRefusal.ReservedForUsers:
                Reserved(logger, client.Id, repository.Name, quota.AnonymousSlots(repository.MaxLocks));
                break;
            case LockRefusal.ShareOfSlots:
                ShareFull(logger, client.Id, repository.Name, quota.MaxPerClientOnBackend(repository.MaxLocks));
                break;
            case LockRefusal.ClientQuota:
                QuotaFull(logger, client.Id, repository.Name);
                break;
        }
    }

    [LoggerMessage(EdgeEventIds.LockRefusedBudget, LogLevel.Warning, "Every backend of {Repository} holds its {MaxLocks} locks: answered locked:false without asking")]
    private static partial void BudgetFull(ILogger logger, string repository, int maxLocks);

    [LoggerMessage(EdgeEventIds.LockRefusedQuota, LogLevel.Warning, "Client {Client} already holds its quota of locks: answered locked:false for {Repository}")]
    private static partial void QuotaFull(ILogger logger, string client, string repository);

    [LoggerMessage(EdgeEventIds.LockRefusedShare, LogLevel.Warning, "Client {Client} holds its share ({MaxPerBackend}) of the lock slots of every backend of {Repository} with room: answered locked:false")]
    private static partial void ShareFull(ILogger logger, string client, string repository, int maxPerBackend);

    [LoggerMessage(EdgeEventIds.LockRefusedReserved, LogLevel.Warning, "Anonymous client {Client} refused a lock on {Repository}: anonymous clients hold the {AnonymousSlots} slots per backend they may, the rest are reserved for users")]
    private static partial void Reserved(ILogger logger, string client, string repository, int anonymousSlots);
}
