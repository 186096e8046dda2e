using System.Collections.Concurrent;
using AnnexEdge.Routing;

namespace AnnexEdge.Telemetry;

/// <summary>A transfer the status page lists while it runs.</summary>
internal interface ITransfer
{
    /// <summary><c>get</c> or <c>put</c> of a client, or <c>upload</c> of the gateway to a node.</summary>
    string Kind { get; }

    Target Target { get; }

    /// <summary>The node the gateway is sending to, for its own uploads.</summary>
    string? Node { get; }

    string? Key { get; }

    /// <summary>Bytes carried so far (read while the transfer runs).</summary>
    long Bytes { get; }
}

/// <summary>
/// The transfers in flight (a client's get or put, and each upload of the gateway to a node), for the status page.
/// Only transfers are listed, not every request: one dictionary entry per transfer, nothing per small request.
/// </summary>
internal sealed class Transfers(TimeProvider time)
{
    private readonly ConcurrentDictionary<ITransfer, DateTimeOffset> _running = new(ReferenceEqualityComparer.Instance);

    public void Started(ITransfer transfer) => _running[transfer] = time.GetUtcNow();

    public void Ended(ITransfer transfer) => _running.TryRemove(transfer, out _);

    /// <summary>What runs now, oldest first.</summary>
    public IReadOnlyList<(ITransfer Transfer, DateTimeOffset Started)> Snapshot() =>
        _running.Select(p => (p.Key, p.Value)).OrderBy(p => p.Value).ToArray();
}
