using System.Collections.Concurrent;
using AnnexEdge.Routing;

namespace AnnexEdge.Clusters;

/// <summary>
/// Where one node stands on a key before an upload: has it already, or wants it from an offset. For a peer's share that
/// has it, <see cref="Holders"/> are the nodes the peer named.
/// </summary>
internal readonly record struct NodeOffset(Repository Node, bool Has, long Offset, IReadOnlyList<string>? Holders = null)
{
    /// <summary>The UUIDs this standing says hold the key: the node's own, or those a peer's share named.</summary>
    public IReadOnlyList<string> HolderUuids => !Has ? [] : Node.Share is null ? [Node.Uuid] : Holders ?? [];
}

/// <summary>
/// What a client's putoffset to a cluster found on each node, kept for the put that follows it, so that put goes to
/// the nodes without a putoffset of its own. git-annex's p2phttp (10.20250416) keeps a key's transfer lock for a
/// moment after it answers putoffset; a put of the same key (from any client) in that moment is refused inside
/// the node ("transfer already in progress") and never answered, and the node's worker stays taken. The client
/// itself puts a client round trip after its putoffset, as it does to a node directly; small keys are not asked by
/// putoffset at all (<see cref="NodePuts.SmallKeySize"/>).
/// </summary>
internal sealed class UploadOffsets(TimeProvider time)
{
    /// <summary>A put follows its putoffset at once; a state older than this is not trusted for skipping bytes.</summary>
    public static readonly TimeSpan Lifetime = TimeSpan.FromSeconds(60);

    /// <summary>Bounds the memory clients that never put can take; past it, puts ask no one and send from their offset.</summary>
    public const int MaxEntries = 10_000;

    private readonly ConcurrentDictionary<(string Cluster, string Key, string Client), (long Since, NodeOffset[] States)> _entries = new();

    public int Count => _entries.Count;

    public void Remember(string cluster, string key, string client, IReadOnlyList<NodeOffset> states)
    {
        if (_entries.Count >= MaxEntries)
        {
            Purge();
            if (_entries.Count >= MaxEntries)
            {
                return;
            }
        }

        _entries[(cluster, key, client)] = (time.GetTimestamp(), states.ToArray());
    }

    /// <summary>The states a putoffset of this client found for the key, once; null when none or too old.</summary>
    public IReadOnlyList<NodeOffset>? Take(string cluster, string key, string client) =>
        _entries.TryRemove((cluster, key, client), out var entry) && time.GetElapsedTime(entry.Since) <= Lifetime ? entry.States : null;

    private void Purge()
    {
        foreach (var (id, entry) in _entries)
        {
            if (time.GetElapsedTime(entry.Since) > Lifetime)
            {
                _entries.TryRemove(id, out _);
            }
        }
    }
}
