using AnnexEdge.Logging;
using AnnexEdge.Pipeline;
using AnnexEdge.Protocol;
using AnnexEdge.Routing;
using Microsoft.AspNetCore.Server.Kestrel.Core.Features;
using Yarp.ReverseProxy;

namespace AnnexEdge.Locking;

/// <summary>
/// Relays <c>keeplocked</c> to the very backend that granted the lock, named by the signed lock token. The edge
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
        if (!tokens.TryRead(request.LockId!, repository.Uuid, out var backendId, out var backendLockId))
        {
            Log.LockTokenRefused(logger, repository.Name);
            await context.RejectAsync(P2pRejection.BadParameter("lockid", "not a lock granted by this edge for this repository"));
            return;
        }

        feature.UsedBackend(backendId);
        if (!proxyState.TryGetCluster(repository.YarpClusterId, out var yarpCluster)
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

        var slot = ledger.Find(backendId, backendLockId);
        slot?.SetKept(true);
        var body = new KeepLockedContent(context.Request.BodyReader, context.RequestAborted);
        body.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
        using var backendRequest = BackendRequests.Create(
            HttpMethod.Post, destination.Model.Config.Address, request with { LockId = backendLockId }, body);

        // A keeplocked holds one of the backend's workers for as long as it lasts.
        using var counted = load.Enter(destination);
        try
        {
            // Not tied to the client: when it goes away, the edge still finishes telling the backend to unlock.
            using var response = await yarpCluster.Model.HttpClient.SendAsync(backendRequest, lifetime.ApplicationStopping);
            var answer = await Forwarding.BoundedContent.ReadAsync(response.Content, P2pAnswer.MaxBytes, lifetime.ApplicationStopping)
                ?? throw new IOException("keeplocked answer too large or cut off");
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
            slot?.Dispose();
        }
    }

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
    }
}
