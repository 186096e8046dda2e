using AnnexEdge.Pipeline;
using AnnexEdge.Protocol;

namespace AnnexEdge.Clusters;

/// <summary>
/// Serves the gateway's own UUID (<c>AnnexEdge:Uuid</c>) as git-annex's gateway serves itself: an ordinary
/// repository, which for the edge stores nothing, so every answer is the honest one for an empty repository.
/// (Locks are answered by <c>LockPolicyMiddleware</c>.)
/// </summary>
internal sealed class GatewayRepository(ClusterClock clock)
{
    public Task ServeAsync(HttpContext context, P2pRequestFeature feature)
    {
        var request = feature.Request;
        return request.Endpoint switch
        {
            P2pEndpoint.GetTimestamp => context.AnswerAsync(P2pAnswers.Timestamp(clock.Timestamp())),
            P2pEndpoint.CheckPresent => context.AnswerAsync(P2pAnswers.Present(false)),
            // Nothing is stored here, so there is nothing left to remove.
            P2pEndpoint.Remove or P2pEndpoint.RemoveBefore => context.AnswerAsync(P2pAnswers.Removed(true, [], request.EffectiveVersion)),
            P2pEndpoint.PutOffset => context.AnswerAsync(P2pAnswers.Offset(0)),
            P2pEndpoint.Put => context.AnswerAsync(P2pAnswers.Stored(false, [], request.EffectiveVersion)),
            P2pEndpoint.LockContent or P2pEndpoint.KeepLocked => context.AnswerAsync(P2pAnswers.Locked(false)),
            _ => context.RejectAsync(P2pRejection.NotFound),
        };
    }
}
