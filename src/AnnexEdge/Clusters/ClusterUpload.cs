using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using AnnexEdge.Configuration;
using AnnexEdge.Logging;
using AnnexEdge.Peering;
using AnnexEdge.Pipeline;
using AnnexEdge.Protocol;
using AnnexEdge.Routing;
using AnnexEdge.Telemetry;
using Microsoft.Extensions.Options;

namespace AnnexEdge.Clusters;

/// <summary>
/// putoffset and put on a cluster: the nodes that should hold the key (all live ones, or <c>Copies</c> of them) are
/// asked where they stand, and one upload from the client is streamed once to every node that needs it, each from
/// its own offset (<see cref="FanOutCopier"/>). Stored is claimed only for the nodes that said so. A put is sent to
/// a node only without a putoffset of its own right before it (<see cref="UploadOffsets"/>) and never while this edge
/// has a put of the same key to that node in flight (<see cref="NodePuts"/>): p2phttp leaves either unanswered.
/// The cluster's nodes at other sites are one more destination per peer (<see cref="PeerShare"/>): a put of the
/// cluster at the peer, from the client's offset, whose answer names the nodes that stored it there.
/// </summary>
/// <remarks>
/// A put that came from a peer never waits for a put of the same key in flight to one of its nodes: two clients
/// putting one key through two sites at once would each hold a node the other's peer request waits for, and neither
/// would end before the stall timeout. Such a node is left out of that answer (the other put reports it).
/// </remarks>
internal sealed partial class ClusterUpload(
    NodeClient nodes,
    UploadOffsets offsets,
    NodePuts puts,
    EdgeMetrics metrics,
    Transfers transfers,
    RepositoryCatalog catalog,
    IOptions<AnnexEdgeOptions> options,
    TimeProvider time,
    ILogger<ClusterUpload> logger)
{
    private readonly TimeSpan _stallTimeout = options.Value.Forwarding.ActivityTimeout;

    // Once a node has every byte it has hashed them already (p2phttp verifies as it receives); what is left is quick.
    private readonly TimeSpan _answerTimeout = options.Value.Forwarding.NodeAnswerTimeout;

    // A peer answers once its own nodes have, each gateway on the way waiting up to its nodes' answer timeout.
    private readonly TimeSpan _peerAnswerTimeout = options.Value.Forwarding.NodeAnswerTimeout * (options.Value.Routing.MaxHops + 1);

    public async Task PutOffsetAsync(HttpContext context, P2pRequestFeature feature, Cluster cluster, IReadOnlyList<Repository> candidates, CancellationToken ct)
    {
        var request = feature.Request;
        var targets = UploadTargets(request, cluster, candidates);
        var states = await StandingsAsync(feature, targets, ct);
        if (states.Count == 0)
        {
            await context.FailAsync("no node of the cluster could take the upload");
        }
        else if (states.All(s => s.Has))
        {
            await context.AnswerAsync(P2pAnswers.AlreadyHave(states.SelectMany(s => s.HolderUuids).Distinct(StringComparer.Ordinal).ToArray(), request.EffectiveVersion));
        }
        else
        {
            offsets.Remember(cluster.Uuid, request.Key!, request.ClientUuid ?? "", states);
            // The client resumes from the smallest offset any node needs; nodes further on skip what they have.
            await context.AnswerAsync(P2pAnswers.Offset(states.Where(s => !s.Has).Min(s => s.Offset)));
        }
    }

    public async Task PutAsync(HttpContext context, P2pRequestFeature feature, Cluster cluster, IReadOnlyList<Repository> candidates, CancellationToken ct)
    {
        var request = feature.Request;
        var targets = UploadTargets(request, cluster, candidates);
        if (request.DataPresent)
        {
            // Nothing is sent: the answer is which nodes hold the key now, this edge's and those an AnnexEdge peer
            // names. A git-annex gateway peer is not asked: its put of a cluster takes its nodes' transfer locks.
            var present = (await ConfirmHoldersAsync(feature, targets.Where(n => n.Share is not { Peer.Advertises: false }).ToArray(), ct)).ToArray();
            await context.AnswerAsync(P2pAnswers.Stored(present.Length > 0, present, request.EffectiveVersion));
            return;
        }

        var clientOffset = request.Offset ?? 0;
        var length = request.DataLength!.Value;
        var states = KnownOffsets(cluster, request, targets, clientOffset);

        // What a node said it had at putoffset is claimed only if it still has it now.
        var holders = ConfirmHoldersAsync(feature, states.Where(s => s.Has).Select(s => s.Node).ToArray(), ct);

        // A node that needs bytes before the client's offset cannot be served from this upload.
        var senders = new List<(NodeOffset State, NodePuts.Claim? Claim)>();
        var others = new List<(Repository Node, Task Running)>();
        foreach (var state in states.Where(s => !s.Has && s.Offset >= clientOffset && s.Offset <= clientOffset + length))
        {
            if (state.Node.Share is not null)
            {
                // The peer's own edge keeps its nodes' puts one at a time.
                senders.Add((state, null));
            }
            else if (puts.TryClaim(state.Node, request.Key!, out var running) is { } claim)
            {
                senders.Add((state, claim));
            }
            else if (FromPeer(request))
            {
                Log.PutInFlightForPeer(logger, state.Node.Name, cluster.Name, request.Key);
            }
            else
            {
                Log.PutInFlight(logger, state.Node.Name, cluster.Name, request.Key);
                others.Add((state.Node, running));
            }
        }

        var stored = new List<string>();
        if (senders.Count > 0)
        {
            var uploaded = await UploadAsync(context, feature, cluster, senders, clientOffset, length, ct);
            if (uploaded is null)
            {
                // Nothing is answered, but the holders' checks still end here rather than fail unobserved.
                await ((Task)holders).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                return;
            }

            stored.AddRange(uploaded);
        }

        var held = (await holders).ToArray();
        foreach (var holder in held)
        {
            // Nodes at other sites count at their own edge.
            if (cluster.Nodes.FirstOrDefault(n => n.Uuid == holder) is { } local)
            {
                metrics.NodeOutcome(cluster, local, NodeOutcome.AlreadyHad);
            }
        }

        stored.AddRange(held);
        if (others.Count > 0)
        {
            // Once the other put has ended, the node has the key exactly when it says so.
            await Task.WhenAll(others.Select(o => o.Running)).WaitAsync(ct);
            stored.AddRange(await ConfirmHoldersAsync(feature, others.Select(o => o.Node).ToArray(), ct));
        }

        var distinct = stored.Distinct(StringComparer.Ordinal).ToArray();
        await context.AnswerAsync(P2pAnswers.Stored(distinct.Length > 0, distinct, request.EffectiveVersion));
    }

    /// <summary>
    /// Streams the client's body once to every sender; the UUIDs that confirmed they stored it, or null when the
    /// client's upload broke off (nothing is stored, nothing answered).
    /// </summary>
    private async Task<List<string>?> UploadAsync(
        HttpContext context,
        P2pRequestFeature feature,
        Cluster cluster,
        List<(NodeOffset State, NodePuts.Claim? Claim)> senders,
        long clientOffset,
        long length,
        CancellationToken ct)
    {
        var request = feature.Request;
        var destinations = senders
            .Select(s => new FanOutDestination(
                s.State.Node.Name, s.State.Offset - clientOffset, time, s.State.Node.Share is null ? _answerTimeout : _peerAnswerTimeout))
            .ToArray();
        var answers = new P2pAnswer?[senders.Count];
        var running = new NodeUpload[senders.Count];
        var answered = false;
        try
        {
            try
            {
                foreach (var (_, claim) in senders.Where(s => s.Claim is not null).OrderBy(s => s.State.Node.Uuid, StringComparer.Ordinal))
                {
                    await claim!.WaitForSlotAsync(ct);
                }
            }
            catch (OperationCanceledException)
            {
                // The client left while a node's puts were all taken: nothing was sent, nothing is answered.
                return null;
            }

            metrics.FanOutStarted(cluster, senders.Count);
            var uploads = new Task<P2pAnswer?>[senders.Count];
            for (var i = 0; i < senders.Count; i++)
            {
                var node = senders[i].State.Node;
                var offset = senders[i].State.Offset;
                running[i] = new NodeUpload(cluster, node.Name, request.Key, destinations[i], metrics.NodeUploadStarted(cluster, node));
                transfers.Started(running[i]);
                if (node.Share is { } share)
                {
                    Log.PutThroughPeer(logger, cluster.Name, request.Key, share.Peer.Name, string.Join(' ', share.Nodes));
                }

                uploads[i] = UploadToNodeAsync(feature, node, offset, clientOffset + length - offset, destinations[i], ct);
            }

            try
            {
                await FanOutCopier.CopyAsync(context.Request.Body, destinations, _stallTimeout, time, ct);
            }
            catch (Exception e) when (e is IOException or BadHttpRequestException or OperationCanceledException)
            {
                // The client's upload broke off: every node's request was failed with it, nothing is stored.
                Log.UploadAborted(logger, cluster.Name, request.Key);
                await Task.WhenAll(uploads);
                return null;
            }

            answers = await Task.WhenAll(uploads);
            answered = true;
        }
        finally
        {
            for (var i = 0; i < senders.Count; i++)
            {
                senders[i].Claim?.Dispose();
                destinations[i].Dispose();
                if (running[i] is { } upload)
                {
                    transfers.Ended(upload);
                    // No outcome when the client's upload broke off: that is no node's doing.
                    upload.Metrics.End(answered ? OutcomeOf(answers[i], destinations[i].Failure) : null, destinations[i].Sent);
                }
            }
        }

        var stored = new List<string>();
        for (var i = 0; i < senders.Count; i++)
        {
            var node = senders[i].State.Node;
            if (TargetAnswers.Succeeded(node, answers[i], TargetAnswers.Stored))
            {
                stored.AddRange(TargetAnswers.Confirmed(node, answers[i], TargetAnswers.Stored));
            }
            else if (node.Share is { } share)
            {
                Log.PeerDidNotStore(logger, share.Peer.Name, cluster.Name, request.Key, string.Join(' ', share.Nodes), destinations[i].Failure?.Message);
            }
            else
            {
                Log.NodeDidNotStore(logger, node.Name, cluster.Name, request.Key, destinations[i].Failure?.Message);
            }
        }

        return stored;
    }

    /// <summary>What a node's put ended with, for <c>annexedge_fanout_node_outcomes_total</c>.</summary>
    internal static NodeOutcome OutcomeOf(P2pAnswer? answer, Exception? failure) =>
        answer?.Bool("stored") == true ? NodeOutcome.Stored
        : failure is TimeoutException ? NodeOutcome.TimedOut
        : NodeOutcome.Failed;

    /// <summary>Whether another gateway of the cluster sent this request (it names a configured peer in <c>bypass</c>).</summary>
    private bool FromPeer(P2pRequest request) => catalog.Peers.Any(p => request.Bypass.Contains(p.Uuid, StringComparer.Ordinal));

    /// <summary>
    /// The nodes the key is placed on (<see cref="NodePlacement.UploadTargets"/>), those at other sites as one share per
    /// peer. A peer is told in <c>bypass</c> to leave alone its nodes the key is not placed on.
    /// </summary>
    private IReadOnlyList<Repository> UploadTargets(P2pRequest request, Cluster cluster, IReadOnlyList<Repository> candidates)
    {
        var live = candidates.Where(nodes.IsLive).ToArray();
        var placed = NodePlacement.UploadTargets(cluster, request.Key!, live);
        var remote = placed.Where(n => n.Via is not null).ToArray();
        var notPlaced = live.Where(n => n.Via is not null && !remote.Contains(n)).Select(n => n.Uuid);
        return [.. placed.Where(n => n.Via is null), .. PeerShares.Targets(cluster, remote, [.. request.Bypass, .. notPlaced])];
    }

    /// <summary>
    /// Where the target nodes stand, as the client's putoffset found them; a node it did not ask (none was asked, or
    /// the node came back since) is sent the upload from the client's offset, and p2phttp skips what it has already.
    /// </summary>
    private NodeOffset[] KnownOffsets(Cluster cluster, P2pRequest request, IReadOnlyList<Repository> targets, long clientOffset)
    {
        var known = offsets.Take(cluster.Uuid, request.Key!, request.ClientUuid ?? "") ?? [];
        return targets.Select(n => known.FirstOrDefault(s => SameTarget(s.Node, n)) is { Node: not null } state ? state : new NodeOffset(n, false, clientOffset)).ToArray();
    }

    /// <summary>
    /// Whether two targets are the same node, or the same peer's share: each request makes its shares anew, and a
    /// share's lists compare by reference.
    /// </summary>
    private static bool SameTarget(Repository a, Repository b) =>
        a.Uuid == b.Uuid && a.Share?.Peer.Name == b.Share?.Peer.Name;

    /// <summary>
    /// The nodes of these that have the key now: a node by checkpresent (which takes no transfer lock), a peer's share
    /// by the nodes its peer names (<see cref="NodeClient.ShareHoldersAsync"/>).
    /// </summary>
    private async Task<IEnumerable<string>> ConfirmHoldersAsync(P2pRequestFeature feature, IReadOnlyList<Repository> candidates, CancellationToken ct) =>
        (await Task.WhenAll(candidates.Select(async n => n.Share is null
            ? (await nodes.PresenceAsync(feature, n, ct))?.HolderUuids ?? []
            : await nodes.ShareHoldersAsync(feature, n, ct))))
            .SelectMany(u => u);

    /// <summary>
    /// Where each target node stands on the key (<see cref="NodeClient.StandingAsync"/>); a node that did not answer is
    /// left out. An AnnexEdge peer's share is asked at the peer, so a site whose nodes have the key already is not sent
    /// it again and one that has part of it resumes. A git-annex gateway's share is not asked and takes the whole
    /// object: its putoffset of the cluster holds its nodes' transfer locks (see <see cref="UploadOffsets"/>), which the
    /// put that follows would meet.
    /// </summary>
    private async Task<IReadOnlyList<NodeOffset>> StandingsAsync(P2pRequestFeature feature, IReadOnlyList<Repository> targets, CancellationToken ct) =>
        (await Task.WhenAll(targets.Select(n => n.Share is { Peer.Advertises: false } ? Task.FromResult<NodeOffset?>(new NodeOffset(n, false, 0)) : nodes.StandingAsync(feature, n, ct))))
            .OfType<NodeOffset>()
            .ToArray();

    private async Task<P2pAnswer?> UploadToNodeAsync(
        P2pRequestFeature feature, Repository node, long offset, long dataLength, FanOutDestination destination, CancellationToken ct)
    {
        using var aborted = CancellationTokenSource.CreateLinkedTokenSource(ct, destination.Aborted);
        try
        {
            var request = nodes.NodeRequest(feature.Request, node, P2pEndpoint.Put) with { Offset = offset, DataPresent = false };
            destination.Content.Headers.TryAddWithoutValidation(P2pRequestParser.DataLengthHeader, dataLength.ToString(CultureInfo.InvariantCulture));
            destination.Content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");

            // Framed by length rather than chunks: each piece goes to the node in one write, and a body cut short
            // by a failure can never end cleanly.
            destination.Content.Headers.ContentLength = dataLength;
            using var response = await nodes.SendAsync(feature, node, HttpMethod.Post, request, destination.Content, aborted.Token);
            if (response is null || response.Message.StatusCode != HttpStatusCode.OK)
            {
                destination.Fail(new IOException($"node {node.Name} answered {(int?)response?.Message.StatusCode}"));
                return null;
            }

            var body = await Forwarding.BoundedContent.ReadAsync(response.Message.Content, P2pAnswer.MaxBytes, aborted.Token);
            return body is null ? null : P2pAnswer.Parse(body);
        }
        catch (Exception e) when (e is HttpRequestException or IOException or OperationCanceledException)
        {
            destination.Fail(destination.Failure is null && destination.Aborted.IsCancellationRequested && !ct.IsCancellationRequested
                ? new TimeoutException($"node {node.Name} did not answer within {_answerTimeout} of receiving the last byte")
                : e);
            return null;
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EdgeEventIds.ClusterPutInFlight, LogLevel.Information, "Cluster {Cluster}: a put of {Key} to node {Node} is in flight already; this upload asks the node once that one has ended instead of sending it again")]
        public static partial void PutInFlight(ILogger logger, string node, string cluster, string? key);

        [LoggerMessage(EdgeEventIds.ClusterNodeDidNotStore, LogLevel.Warning, "Cluster {Cluster}: node {Node} did not store {Key} ({Reason}); it is left out of plusuuids")]
        public static partial void NodeDidNotStore(ILogger logger, string node, string cluster, string? key, string? reason);

        [LoggerMessage(EdgeEventIds.ClusterUploadAborted, LogLevel.Warning, "Cluster {Cluster}: the client's upload of {Key} broke off; no node keeps it")]
        public static partial void UploadAborted(ILogger logger, string cluster, string? key);

        [LoggerMessage(EdgeEventIds.ClusterPeerPutInFlight, LogLevel.Information, "Cluster {Cluster}: a put of {Key} to node {Node} is in flight already; this put from a peer leaves the node out rather than wait (the other put reports it)")]
        public static partial void PutInFlightForPeer(ILogger logger, string node, string cluster, string? key);

        [LoggerMessage(EdgeEventIds.ClusterPutThroughPeer, LogLevel.Information, "Cluster {Cluster}: {Key} goes to nodes {Nodes} through peer {Peer}, in one put of the cluster there")]
        public static partial void PutThroughPeer(ILogger logger, string cluster, string? key, string peer, string nodes);

        [LoggerMessage(EdgeEventIds.ClusterPeerDidNotStore, LogLevel.Warning, "Cluster {Cluster}: peer {Peer} stored {Key} on none of nodes {Nodes} ({Reason}); they are left out of plusuuids")]
        public static partial void PeerDidNotStore(ILogger logger, string peer, string cluster, string? key, string nodes, string? reason);
    }
}

/// <summary>One upload of the gateway to a node, as the status page lists it and metrics count it.</summary>
internal sealed class NodeUpload(Cluster cluster, string node, string? key, FanOutDestination destination, EdgeMetrics.NodeTransfer metrics) : ITransfer
{
    public string Kind => "upload";

    public Target Target => cluster;

    public string? Node => node;

    public string? Key => key;

    public long Bytes => destination.Sent;

    public EdgeMetrics.NodeTransfer Metrics => metrics;
}
