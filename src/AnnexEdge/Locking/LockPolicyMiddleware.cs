using AnnexEdge.Pipeline;
using AnnexEdge.Protocol;
using AnnexEdge.Routing;

namespace AnnexEdge.Locking;

/// <summary>
/// The lock layer of every P2P request, after access: what <c>lockcontent</c> and <c>keeplocked</c> mean for the
/// target. A cluster is never locked as a whole (git-annex's clients lock content on individual nodes) and the
/// gateway stores nothing, so both answer <c>{"locked":false}</c>. A repository's <c>keeplocked</c> is relayed to the
/// backend that granted the lock; its <c>lockcontent</c> goes on to YARP, where the lock budget picks among the
/// replicas in rotation (<see cref="LockBudgetMiddleware"/>, <see cref="LockReservationMiddleware"/>).
/// </summary>
internal sealed class LockPolicyMiddleware(RequestDelegate next, KeepLockedRelay relay)
{
    public async Task InvokeAsync(HttpContext context)
    {
        if (context.GetP2pRequest() is not { Request.Endpoint: P2pEndpoint.LockContent or P2pEndpoint.KeepLocked } feature)
        {
            await next(context);
            return;
        }

        if (feature.Target is not Repository)
        {
            await context.AnswerAsync(P2pAnswers.Locked(false));
        }
        else if (feature.Request.Endpoint == P2pEndpoint.KeepLocked)
        {
            await relay.RelayAsync(context, feature);
        }
        else
        {
            await next(context);
        }
    }
}
