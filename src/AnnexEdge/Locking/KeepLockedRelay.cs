using AnnexEdge.Logging;
using AnnexEdge.Pipeline;
using AnnexEdge.Protocol;
using AnnexEdge.Routing;
using Microsoft.AspNetCore.Server.Kestrel.Core.Features;
using Yarp.ReverseProxy;

namespace AnnexEdge.Locking;

/// <summary>
/// Relays <c>keeplocked</c> to the very backend that granted the lock, named by the signed lock token: only for the
/// client the lock was granted to, within the lock's lifetime, while the ledger holds the lock, and once (the relay
/// holds the lock's slot, see <see cref="LockLedger.TryKeep"/>). The edge
/// owns the backend side of the long poll: the client's messages are validated before they reach the backend,
/// and when the client unlocks, disconnects or misbehaves, the backend is told to unlock at once (see
/// <see cref="KeepLockedContent"/>). The poll is bounded by the client, not by a proxy activity timeout. If the
/// backend is gone the request fails visibly: answering anything else could make a client believe a lock is held.
/// </summary>
internal sealed partial class KeepLockedRelay(
    IProxyStateLookup proxyState,
    Routing.BackendLoad load,
    LockTokenCodec tokens,
    LockLedger ledger,
    IHostApplicationLifetime lifetime,
    ILogger<KeepLockedRelay> logger)
{
    public async Task RelayAsync(HttpContext context, P2pRequestFeature feature)
    {
        var request = feature.Request;
        var repository = feature.Repository!;
        var read = tokens.TryRead(request.LockId!, repository.Uuid, out var token);
        if (read == LockTokenRead.Outdated)
        {
            Log.LockTokenOutdated(logger, repository.Name);
            await RefuseAsync(context, "a lock token of an earlier edge version; lock the content again");
            return;
        }

        if (token is null)
        {
            Log.LockTokenRefused(logger, repository.Name);
            await RefuseAsync(context, "not a lock granted by this edge for this repository");
            return;
        }

        var client = LockPrincipal.Of(context);
        if (token.Principal != client)
        {
            Log.LockTokenOtherPrincipal(logger, repository.Name, client.Id);
            await RefuseAsync(context, "a lock granted to another client");
            return;
        }

        var backendId = token.BackendId;
        feature.UsedBackend(backendId);
        if (!proxyState.TryGetCluster(YarpClusterOf(feature, backendId), out var yarpCluster)
            || !yarpCluster.Destinations.TryGetValue(backendId, out var destination))
        {
            Log.LockBackendGone(logger, backendId, repository.Name);
            await context.FailAsync("the backend that granted this lock is no longer configured");
            return;
        }

        // The client sends a line now and then, maybe minutes apart; Kestrel's minimum data rate would cut it.
        if (context.Features.Get<IHttpMinRequestBodyDataRateFeature>() is { } rate)
        {
            rate.MinDataRate = null;
        }

        // A stopping edge keeps no lock for a client: it unlocks at the backend, and the client gets the backend's answer.
        using var ended = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, lifetime.ApplicationStopping);
        var body = new KeepLockedContent(context.Request.BodyReader, ended.Token);
        body.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
        using var backendRequest = BackendRequests.Create(
            HttpMethod.Post, destination.Model.Config.Address, request with { LockId = token.BackendLockId }, body);

        // The relay holds the lock's slot (one relay per lock, within the backend's budget) until it ends.
        var claim = ledger.TryKeep(token, repository.MaxLocks, out var slot);
        if (claim != KeepClaim.Kept)
        {
            await RefuseClaimAsync(context, claim, token, client);
            return;
        }

        try
        {
            // A keeplocked holds one of the backend's workers for as long as it lasts.
            using var counted = load.Enter(destination);

            // Not tied to the client, nor to the start of a stop: when the client goes away or the edge stops, the edge
            // still finishes telling the backend to unlock. Bounded by the host's life, which a cut stop ends too.
            using var response = await yarpCluster.Model.HttpClient.SendAsync(backendRequest, lifetime.ApplicationStopped);
            var answer = await Forwarding.BoundedContent.ReadAsync(response.Content, P2pAnswer.MaxBytes, lifetime.ApplicationStopped)
                ?? throw new IOException("keeplocked answer too large or cut off");
            // The backend answers once the lock has ended there: free the slot before the client has the answer, so
            // the client's next lockcontent (git-annex locks key after key) finds it free, not still held.
            slot!.Dispose();
            if (context.RequestAborted.IsCancellationRequested)
            {
                return;
            }

            if (body.Invalid)
            {
                Log.InvalidKeepLockedBody(logger, repository.Name);
                await context.RejectAsync(new P2pRejection(400, "keeplocked takes newline-delimited {\"unlock\": bool} objects"));
                return;
            }

            context.Response.StatusCode = (int)response.StatusCode;
            context.Response.ContentType = response.Content.Headers.ContentType?.ToString();
            await context.Response.Body.WriteAsync(answer, context.RequestAborted);
            feature.Sent(answer.Length);
            if (lifetime.ApplicationStopping.IsCancellationRequested && !body.ClientUnlocked)
            {
                // The client is still sending its body, which Kestrel would wait for to the end of the grace period:
                // the answer is out, so the connection is closed (the client sees the lock end either way).
                await context.Response.CompleteAsync();
                context.Abort();
            }
        }
        catch (Exception e) when (e is HttpRequestException or IOException or OperationCanceledException)
        {
            Log.KeepLockedFailed(logger, backendId, e.Message);
            if (!context.Response.HasStarted && !context.RequestAborted.IsCancellationRequested)
            {
                context.Response.StatusCode = StatusCodes.Status502BadGateway;
            }
        }
        finally
        {
            // The keeplocked is over, however it ended: the backend no longer holds the lock.
            slot!.Dispose();
        }
    }

    /// <summary>
    /// The YARP cluster of the backend that granted the lock: the repository's, or for a node reached through a peer,
    /// the peer's that granted it, even if the cheapest route to the node leads through another peer since.
    /// </summary>
    private static string YarpClusterOf(P2pRequestFeature feature, string backendId)
    {
        var repository = feature.Repository!;
        return repository.Via is not null && feature.Catalog.Peers.FirstOrDefault(p => p.Backends.Any(b => b.Id == backendId)) is { } granting
            ? granting.YarpClusterId
            : repository.YarpClusterId;
    }

    private Task RefuseClaimAsync(HttpContext context, KeepClaim claim, LockToken token, LockPrincipal client)
    {
        var repository = context.GetP2pRequest()!.Repository!.Name;
        switch (claim)
        {
            case KeepClaim.Expired:
                Log.LockTokenExpired(logger, repository, client.Id, token.IssuedAt);
                return RefuseAsync(context, "the lock's lifetime is over");
            case KeepClaim.AlreadyRelayed:
                Log.LockTokenAlreadyRelayed(logger, repository, client.Id);
                return RefuseAsync(context, "this lock is kept by another keeplocked, or was already");
            case KeepClaim.OtherLock:
                Log.LockTokenOtherLock(logger, repository, client.Id);
                return RefuseAsync(context, "not a lock granted by this edge");
            default:
                Log.LockTokenNoRoom(logger, repository, token.BackendId, client.Id);
                return RefuseAsync(context, "this edge has no lock slot for it");
        }
    }

    /// <summary>A keeplocked the edge will not relay: 400, as p2phttp answers a lockid it does not know.</summary>
    private static Task RefuseAsync(HttpContext context, string why) =>
        context.RejectAsync(P2pRejection.BadParameter("lockid", why));

    private static partial class Log
    {
        [LoggerMessage(EdgeEventIds.LockTokenRefused, LogLevel.Warning, "Refused keeplocked for {Repository}: the lockid is not a token this edge signed for it")]
        public static partial void LockTokenRefused(ILogger logger, string repository);

        [LoggerMessage(EdgeEventIds.LockBackendGone, LogLevel.Warning, "keeplocked names backend {Backend} of {Repository}, which is no longer configured; the client is told the lock cannot be kept")]
        public static partial void LockBackendGone(ILogger logger, string backend, string repository);

        [LoggerMessage(EdgeEventIds.KeepLockedFailed, LogLevel.Warning, "keeplocked to backend {Backend} failed: {Error}")]
        public static partial void KeepLockedFailed(ILogger logger, string backend, string error);

        [LoggerMessage(EdgeEventIds.KeepLockedInvalidBody, LogLevel.Warning, "keeplocked for {Repository} sent something other than {{\"unlock\": bool}} lines: the backend was told to unlock and the client gets 400")]
        public static partial void InvalidKeepLockedBody(ILogger logger, string repository);

        [LoggerMessage(EdgeEventIds.LockTokenOutdated, LogLevel.Warning, "Refused keeplocked for {Repository}: the lockid is a token of an earlier edge version, which bound no key, client or time")]
        public static partial void LockTokenOutdated(ILogger logger, string repository);

        [LoggerMessage(EdgeEventIds.LockTokenOtherPrincipal, LogLevel.Warning, "Refused keeplocked for {Repository} from {Client}: the lock was granted to another client")]
        public static partial void LockTokenOtherPrincipal(ILogger logger, string repository, string client);

        [LoggerMessage(EdgeEventIds.LockTokenExpired, LogLevel.Warning, "Refused keeplocked for {Repository} from {Client}: the lock granted at {IssuedAt} is past its lifetime")]
        public static partial void LockTokenExpired(ILogger logger, string repository, string client, DateTimeOffset issuedAt);

        [LoggerMessage(EdgeEventIds.LockTokenAlreadyRelayed, LogLevel.Warning, "Refused keeplocked for {Repository} from {Client}: a keeplocked for this lock is relayed already, or was")]
        public static partial void LockTokenAlreadyRelayed(ILogger logger, string repository, string client);

        [LoggerMessage(EdgeEventIds.LockTokenOtherLock, LogLevel.Warning, "Refused keeplocked for {Repository} from {Client}: the token does not name the lock this edge holds under its lockid")]
        public static partial void LockTokenOtherLock(ILogger logger, string repository, string client);

        [LoggerMessage(EdgeEventIds.LockTokenNoRoom, LogLevel.Warning, "Refused keeplocked for {Repository} from {Client}: the lock was granted through another edge process and this one has no slot for it on backend {Backend}")]
        public static partial void LockTokenNoRoom(ILogger logger, string repository, string backend, string client);
    }
}
