using AnnexEdge.Logging;
using AnnexEdge.Protocol;
using AnnexEdge.Routing;
using Yarp.ReverseProxy;

namespace AnnexEdge.Locking;

/// <summary>How the edge unlocks a lock at its backend: the backend's YARP cluster and the keeplocked to send there.</summary>
internal sealed record LockRelease(string YarpClusterId, P2pRequest KeepLocked);

/// <summary>
/// At stop, once Kestrel has closed every client connection, unlocks at their backends the locks granted through
/// this edge whose client has not sent its keeplocked: that keeplocked cannot come through this process any more,
/// and each such lock would pin two of the node's workers for the rest of its 10 minutes. Locks whose keeplocked is
/// relayed are unlocked by the relay itself when the host begins to stop (see <see cref="KeepLockedRelay"/>).
/// </summary>
internal sealed partial class LocksReleasedAtStop(
    LockLedger ledger, IProxyStateLookup proxyState, TimeProvider time, ILogger<LocksReleasedAtStop> logger) : IHostedLifecycleService
{
    /// <summary>Unlocking is one short request per lock; a node that does not answer in this time is not waited for.</summary>
    private static readonly TimeSpan ReleaseTimeout = TimeSpan.FromSeconds(5);

    private static readonly byte[] Unlock = "{\"unlock\": true}\n"u8.ToArray();

    /// <summary>Runs after every hosted service has stopped, Kestrel included, whether or not the stop was cut.</summary>
    public async Task StoppedAsync(CancellationToken cancellationToken)
    {
        var locks = ledger.TakeUnkept();
        if (locks.Count == 0)
        {
            return;
        }

        // Not the host's token: after a cut it is already cancelled, and these locks must be released all the same.
        using var timeout = new CancellationTokenSource(ReleaseTimeout, time);
        await Task.WhenAll(locks.Select(slot => ReleaseAsync(slot, timeout.Token)));
    }

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private async Task ReleaseAsync(LockSlot slot, CancellationToken cancellationToken)
    {
        if (slot.Release is not { } release
            || !proxyState.TryGetCluster(release.YarpClusterId, out var cluster)
            || !cluster.Destinations.TryGetValue(slot.BackendId, out var destination))
        {
            Log.ReleaseFailed(logger, slot.BackendId, slot.Key, "the backend is no longer configured");
            return;
        }

        try
        {
            var body = new ByteArrayContent(Unlock);
            body.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
            using var request = BackendRequests.Create(HttpMethod.Post, destination.Model.Config.Address, release.KeepLocked, body);
            using var response = await cluster.Model.HttpClient.SendAsync(request, cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                Log.ReleaseFailed(logger, slot.BackendId, slot.Key, $"the backend answered {(int)response.StatusCode}");
                return;
            }

            Log.Released(logger, slot.BackendId, slot.Key);
        }
        catch (Exception e) when (e is HttpRequestException or IOException or OperationCanceledException)
        {
            Log.ReleaseFailed(logger, slot.BackendId, slot.Key, e.Message);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EdgeEventIds.LockReleasedAtStop, LogLevel.Information, "Stopping: unlocked {Key} at backend {Backend}, whose client had not sent its keeplocked")]
        public static partial void Released(ILogger logger, string backend, string key);

        [LoggerMessage(EdgeEventIds.LockReleaseAtStopFailed, LogLevel.Warning, "Stopping: could not unlock {Key} at backend {Backend} ({Error}); the backend keeps the lock until its lifetime ends")]
        public static partial void ReleaseFailed(ILogger logger, string backend, string key, string error);
    }
}
