using AnnexEdge.Clusters;
using AnnexEdge.Routing;

namespace AnnexEdge.Tests.Clusters;

public sealed class NodePlacementTests
{
    private static readonly Repository[] Nodes = Enumerable.Range(1, 6)
        .Select(i => Node("node" + i, $"{i:x8}-1111-4111-8111-{i:x12}"))
        .ToArray();

    private static Repository Node(string name, string uuid, double cost = 100) =>
        new(name, uuid, [Backend.For(name, "http://127.0.0.1:1")], "PowerOfTwoChoices", cost);

    private static Cluster ClusterOf(IReadOnlyList<Repository> nodes, int? copies) =>
        new("mycluster", "ac000000-0000-8000-8000-000000000001", nodes, copies, TimeSpan.FromSeconds(2));

    private static IEnumerable<string> Keys(int count) =>
        Enumerable.Range(0, count).Select(i => $"SHA256E-s{i * 7919}--{i:x64}.bin");

    [Fact]
    public void Without_copies_an_upload_goes_to_every_live_node()
    {
        var live = new[] { Nodes[0], Nodes[2], Nodes[5] };

        foreach (var key in Keys(50))
        {
            Assert.Equal(live, NodePlacement.UploadTargets(ClusterOf(Nodes, null), key, live));
        }
    }

    [Fact]
    public void With_copies_nodes_at_other_sites_fill_what_local_nodes_cannot_cheapest_path_first()
    {
        var peer = new Peer("b", "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb", [Backend.For("peer:b", "http://127.0.0.1:2")], 10, ["mycluster"], null);
        Repository Remote(string uuid, double cost) => Node("b", uuid, cost) with { Via = peer };
        var near = Remote("b1b1b1b1-0000-4000-8000-000000000001", 110);
        var far = Remote("b2b2b2b2-0000-4000-8000-000000000002", 210);
        var live = new[] { far, Nodes[0], near, Nodes[1] };

        // Without copies every node, wherever it is.
        Assert.Equal(live, NodePlacement.UploadTargets(ClusterOf(Nodes, null), "SHA256E-s1--00", live));
        foreach (var key in Keys(200))
        {
            // Local nodes first: two copies stay at this site, whatever the key.
            Assert.Equal([Nodes[0], Nodes[1]], NodePlacement.UploadTargets(ClusterOf(Nodes, 2), key, live).OrderBy(n => n.Name));
            // A third copy goes to the cheaper path, a fourth to the dearer too.
            Assert.Equal(new[] { Nodes[0].Uuid, Nodes[1].Uuid, near.Uuid }.Order(), NodePlacement.UploadTargets(ClusterOf(Nodes, 3), key, live).Select(n => n.Uuid).Order());
            Assert.Equal(4, NodePlacement.UploadTargets(ClusterOf(Nodes, 4), key, live).Count);
        }
    }

    [Fact]
    public void With_copies_nodes_at_other_sites_at_the_same_cost_are_placed_by_the_key()
    {
        var peer = new Peer("b", "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb", [Backend.For("peer:b", "http://127.0.0.1:2")], 10, ["mycluster"], null);
        var remote = Enumerable.Range(1, 4).Select(i => Node("b", $"b{i}b{i}b{i}b{i}-0000-4000-8000-00000000000{i}", 110) with { Via = peer }).ToArray();
        Repository[] live = [Nodes[0], .. remote];

        var chosen = Keys(400).Select(k => NodePlacement.UploadTargets(ClusterOf(Nodes, 2), k, live)).ToArray();

        Assert.All(chosen, c => Assert.Equal(Nodes[0], c[0]));
        // Every remote node gets its share of the keys, none all of them.
        var counts = remote.Select(r => chosen.Count(c => c[1] == r)).ToArray();
        Assert.All(counts, n => Assert.InRange(n, 50, 150));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(5)]
    public void With_copies_an_upload_goes_to_exactly_that_many_distinct_live_nodes(int copies)
    {
        var cluster = ClusterOf(Nodes, copies);
        foreach (var key in Keys(500))
        {
            var targets = NodePlacement.UploadTargets(cluster, key, Nodes);

            Assert.Equal(copies, targets.Count);
            Assert.Equal(copies, targets.Select(t => t.Uuid).Distinct().Count());
            Assert.All(targets, t => Assert.Contains(t, Nodes));
        }
    }

    [Fact]
    public void With_copies_only_live_nodes_are_chosen()
    {
        var cluster = ClusterOf(Nodes, 2);
        var live = new[] { Nodes[1], Nodes[3], Nodes[4] };
        foreach (var key in Keys(500))
        {
            var targets = NodePlacement.UploadTargets(cluster, key, live);

            Assert.Equal(2, targets.Count);
            Assert.All(targets, t => Assert.Contains(t, live));
        }
    }

    [Fact]
    public void With_fewer_live_nodes_than_copies_every_live_node_is_chosen()
    {
        var live = new[] { Nodes[1], Nodes[4] };

        Assert.Equal(live, NodePlacement.UploadTargets(ClusterOf(Nodes, 3), "SHA256E-s1--aa", live));
    }

    [Fact]
    public void Placement_depends_only_on_the_key_and_the_set_of_live_nodes_not_their_order()
    {
        var cluster = ClusterOf(Nodes, 3);
        var random = new Random(3);
        foreach (var key in Keys(300))
        {
            var first = NodePlacement.UploadTargets(cluster, key, Nodes).Select(n => n.Uuid).Order().ToArray();
            var shuffled = Nodes.OrderBy(_ => random.Next()).ToArray();
            var again = NodePlacement.UploadTargets(ClusterOf(shuffled, 3), key, shuffled).Select(n => n.Uuid).Order().ToArray();

            Assert.Equal(first, again);
        }
    }

    [Fact]
    public void When_a_node_leaves_only_the_keys_it_held_move()
    {
        var cluster = ClusterOf(Nodes, 2);
        var leaving = Nodes[3];
        var remaining = Nodes.Where(n => n != leaving).ToArray();
        var moved = 0;
        foreach (var key in Keys(2000))
        {
            var before = NodePlacement.UploadTargets(cluster, key, Nodes).Select(n => n.Uuid).ToHashSet();
            var after = NodePlacement.UploadTargets(cluster, key, remaining).Select(n => n.Uuid).ToHashSet();

            if (!before.Contains(leaving.Uuid))
            {
                Assert.Equal(before, after);
            }
            else
            {
                // The other node of the pair keeps the key; one replacement joins it.
                moved++;
                Assert.Single(before.Except(after));
                Assert.Single(after.Except(before));
                Assert.Subset(after, before.Where(u => u != leaving.Uuid).ToHashSet());
            }
        }

        // Each node holds about 2/6 of the keys: the leaving node's share moved, the rest stayed.
        Assert.InRange(moved, 2000 * 2 / 6 * 0.8, 2000 * 2 / 6 * 1.2);
    }

    [Fact]
    public void Copies_spread_keys_evenly_over_the_nodes()
    {
        var cluster = ClusterOf(Nodes, 2);
        var counts = Nodes.ToDictionary(n => n.Uuid, _ => 0);
        foreach (var key in Keys(3000))
        {
            foreach (var target in NodePlacement.UploadTargets(cluster, key, Nodes))
            {
                counts[target.Uuid]++;
            }
        }

        // 3000 keys x 2 copies / 6 nodes = 1000 each.
        Assert.All(counts.Values, c => Assert.InRange(c, 850, 1150));
    }

    [Fact]
    public void Download_order_is_cheapest_first_then_least_busy_then_by_name()
    {
        var a = Node("a", "00000000-0000-4000-8000-00000000000a", cost: 200);
        var b = Node("b", "00000000-0000-4000-8000-00000000000b", cost: 50);
        var c = Node("c", "00000000-0000-4000-8000-00000000000c", cost: 100);
        var d = Node("d", "00000000-0000-4000-8000-00000000000d", cost: 100);
        var e = Node("e", "00000000-0000-4000-8000-00000000000e", cost: 100);
        var busy = new Dictionary<Repository, int> { [a] = 0, [b] = 9, [c] = 3, [d] = 1, [e] = 1 };

        var order = NodePlacement.DownloadOrder([a, c, e, b, d], n => busy[n]);

        Assert.Equal(["b", "d", "e", "c", "a"], order.Select(n => n.Name));
    }

    [Fact]
    public void Download_order_follows_in_flight_counts_as_they_change()
    {
        var nodes = new[] { Nodes[0], Nodes[1], Nodes[2] };
        var busy = new Dictionary<Repository, int> { [Nodes[0]] = 2, [Nodes[1]] = 0, [Nodes[2]] = 1 };

        Assert.Equal([Nodes[1], Nodes[2], Nodes[0]], NodePlacement.DownloadOrder(nodes, n => busy[n]));

        busy[Nodes[1]] = 5;
        Assert.Equal([Nodes[2], Nodes[0], Nodes[1]], NodePlacement.DownloadOrder(nodes, n => busy[n]));
    }
}
