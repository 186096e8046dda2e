using System.Collections.Concurrent;

namespace AnnexEdge.Clusters;

/// <summary>
/// The puts the gateway has in flight, at most one per node and key. A second put of a key to a node that is still
/// receiving it from this edge (a client's retry while the first attempt runs, two clients' uploads of one key) is
/// refused inside a p2phttp node ("transfer already in progress") and never answered; it waits for the first one's
/// outcome instead of being sent.
/// </summary>
internal sealed class NodePuts
{
    private readonly ConcurrentDictionary<(string Node, string Key), TaskCompletionSource<bool>> _inFlight = new();

    public int InFlight => _inFlight.Count;

    /// <summary>
    /// Claims the put of the key to the node; null when one is in flight already, and then <paramref name="running"/>
    /// completes with whether that one stored.
    /// </summary>
    public Claim? TryClaim(string node, string key, out Task<bool> running)
    {
        var mine = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        var current = _inFlight.GetOrAdd((node, key), mine);
        running = current.Task;
        return current == mine ? new Claim(this, (node, key), mine) : null;
    }

    /// <summary>One node's put of one key; ends (with its outcome) exactly once.</summary>
    internal sealed class Claim(NodePuts owner, (string Node, string Key) id, TaskCompletionSource<bool> outcome)
    {
        public void End(bool stored)
        {
            owner._inFlight.TryRemove(new KeyValuePair<(string, string), TaskCompletionSource<bool>>(id, outcome));
            outcome.TrySetResult(stored);
        }
    }
}
