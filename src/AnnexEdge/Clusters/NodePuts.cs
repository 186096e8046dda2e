using System.Collections.Concurrent;

namespace AnnexEdge.Clusters;

/// <summary>
/// The puts this edge has in flight, at most one per node and key, whichever path sends them (the cluster gateway or
/// a client's put to the node's own UUID). A second put of a key to a node that is still receiving it (a client's
/// retry while the first attempt runs, one client putting to a cluster and to one of its nodes at once) is refused
/// inside a p2phttp node ("transfer already in progress") and never answered; it waits for the first one instead.
/// </summary>
internal sealed class NodePuts
{
    private readonly ConcurrentDictionary<(string Node, string Key), TaskCompletionSource> _inFlight = new();

    public int InFlight => _inFlight.Count;

    /// <summary>
    /// Claims the put of the key to the node; null when one is in flight already, and then <paramref name="running"/>
    /// completes when that one has ended.
    /// </summary>
    public Claim? TryClaim(string node, string key, out Task running)
    {
        var mine = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var current = _inFlight.GetOrAdd((node, key), mine);
        running = current.Task;
        return current == mine ? new Claim(this, (node, key), mine) : null;
    }

    /// <summary>Claims the put of the key to the node, waiting for any put of it in flight to end first.</summary>
    public async Task<Claim> ClaimAsync(string node, string key, CancellationToken cancellationToken)
    {
        while (true)
        {
            if (TryClaim(node, key, out var running) is { } claim)
            {
                return claim;
            }

            await running.WaitAsync(cancellationToken);
        }
    }

    /// <summary>One node's put of one key; ends exactly once (disposing it ends it).</summary>
    internal sealed class Claim(NodePuts owner, (string Node, string Key) id, TaskCompletionSource ended) : IDisposable
    {
        public void Dispose()
        {
            owner._inFlight.TryRemove(new KeyValuePair<(string, string), TaskCompletionSource>(id, ended));
            ended.TrySetResult();
        }
    }
}
