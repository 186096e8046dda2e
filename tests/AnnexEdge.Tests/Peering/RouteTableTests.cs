using AnnexEdge.Configuration;
using AnnexEdge.Peering;
using Microsoft.Extensions.Time.Testing;

namespace AnnexEdge.Tests.Peering;

public sealed class RouteTableTests
{
    private const string X = "11111111-1111-4111-8111-111111111111";
    private const string Y = "22222222-2222-4222-8222-222222222222";

    private static readonly PeerLink B = new("b", "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb", 10);
    private static readonly PeerLink C = new("c", "cccccccc-cccc-4ccc-8ccc-cccccccccccc", 10);

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 30, 12, 0, 0, TimeSpan.Zero));
    private readonly RoutingOptions _options = new() { RefreshInterval = TimeSpan.FromSeconds(10), MaxRouteAge = TimeSpan.FromSeconds(60), LinkFailures = 3, MaxHops = 16 };

    private RouteTable Table(params PeerLink[] peers) => new(peers, _options, _time);

    private static Route Only(RouteTable table, string destination) => Assert.Single(table.Routes, r => r.Destination == destination);

    [Fact]
    public void A_live_local_node_is_a_direct_route_of_its_own_cost()
    {
        var table = Table();
        var changes = table.Recompute([new LocalNode(X, 50, Live: true), new LocalNode(Y, 50, Live: false)]);

        var route = Assert.Single(table.Routes);
        Assert.Equal((X, null, 0, 50.0, null), (route.Destination, route.Via, route.Hops, route.Cost, route.Withdrawn));
        Assert.Null(Assert.Single(changes).Before);
    }

    [Fact]
    public void A_reloaded_link_cost_changes_the_route_at_the_next_recompute_and_keeps_the_peers_advertisement()
    {
        var table = Table(B, C);
        table.Advertised("b", [new Advertisement(X, 100, 0)]);
        table.Advertised("c", [new Advertisement(X, 105, 0)]);
        table.Recompute([]);
        Assert.Equal(("b", 110.0), (Only(table, X).Via, Only(table, X).Cost));

        table.Configure([B with { LinkCost = 20 }, C]);
        var changes = table.Recompute([]);

        Assert.Equal(("c", 115.0), (Only(table, X).Via, Only(table, X).Cost));
        Assert.Equal("b", Assert.Single(changes).Before!.Via);
        table.Configure([B with { LinkCost = 1 }, C]);
        table.Recompute([]);
        Assert.Equal(("b", 101.0), (Only(table, X).Via, Only(table, X).Cost));
    }

    [Fact]
    public void A_peer_removed_by_a_reload_has_its_routes_withdrawn_as_no_longer_configured_and_late_fetches_are_ignored()
    {
        var table = Table(B);
        table.Advertised("b", [new Advertisement(X, 100, 0)]);
        table.Recompute([]);

        table.Configure([C]);
        table.Advertised("b", [new Advertisement(X, 100, 0)]);
        table.FetchFailed("b");
        table.Recompute([]);

        Assert.Equal("peer b no longer configured", Only(table, X).Withdrawn);
        Assert.Null(table.Best(X, []));
        Assert.Equal("c", Assert.Single(table.PeerStates).Peer.Name);
    }

    [Fact]
    public void A_peer_given_another_uuid_by_a_reload_starts_without_the_old_ones_advertisement()
    {
        var table = Table(B);
        table.Advertised("b", [new Advertisement(X, 100, 0)]);
        table.Recompute([]);

        table.Configure([B with { Uuid = "dddddddd-dddd-4ddd-8ddd-dddddddddddd" }]);
        table.Recompute([]);

        Assert.NotNull(Only(table, X).Withdrawn);
    }

    [Fact]
    public void A_peers_route_adds_the_link_cost_and_one_hop()
    {
        var table = Table(B);
        table.Advertised("b", [new Advertisement(X, 100, 0)]);
        table.Recompute([]);

        var route = Only(table, X);
        Assert.Equal(("b", B.Uuid, 1, 110.0), (route.Via, route.ViaUuid, route.Hops, route.Cost));
    }

    [Fact]
    public void Lower_cost_wins_then_fewer_hops_then_the_next_hops_name()
    {
        // Equal cost, equal hops: by name, whichever order the peers advertise in.
        var table = Table(C, B);
        table.Advertised("c", [new Advertisement(X, 100, 0)]);
        table.Advertised("b", [new Advertisement(X, 100, 0)]);
        table.Recompute([]);
        Assert.Equal("b", Only(table, X).Via);

        // Equal cost: fewer hops wins over the name.
        table.Advertised("b", [new Advertisement(X, 100, 1)]);
        table.Recompute([]);
        Assert.Equal(("c", 1), (Only(table, X).Via, Only(table, X).Hops));

        // Lower cost wins over fewer hops.
        table.Advertised("b", [new Advertisement(X, 99, 3)]);
        table.Recompute([]);
        Assert.Equal(("b", 4, 109.0), (Only(table, X).Via, Only(table, X).Hops, Only(table, X).Cost));

        // Direct at equal cost wins over a peer (no name sorts before it).
        table.Recompute([new LocalNode(X, 109, Live: true)]);
        Assert.Null(Only(table, X).Via);
    }

    [Fact]
    public void A_local_node_going_down_is_withdrawn_or_replaced_by_a_peers_route()
    {
        var table = Table(B);
        table.Recompute([new LocalNode(X, 50, Live: true), new LocalNode(Y, 50, Live: true)]);
        table.Advertised("b", [new Advertisement(Y, 100, 0)]);
        _time.Advance(TimeSpan.FromSeconds(5));

        var changes = table.Recompute([new LocalNode(X, 50, Live: false), new LocalNode(Y, 50, Live: false)]);

        Assert.Equal(2, changes.Count);
        var x = Only(table, X);
        Assert.Equal(("node down", _time.GetUtcNow()), (x.Withdrawn, x.Since));
        Assert.DoesNotContain(table.AdvertiseTo(C.Uuid), a => a.Uuid == X);
        Assert.Equal(("b", (string?)null), (Only(table, Y).Via, Only(table, Y).Withdrawn));
    }

    [Fact]
    public void A_peer_whose_fetches_fail_LinkFailures_times_in_a_row_has_its_routes_withdrawn_and_forgotten_after_MaxRouteAge()
    {
        var table = Table(B);
        table.Advertised("b", [new Advertisement(X, 100, 0)]);
        table.Recompute([]);

        table.FetchFailed("b");
        table.FetchFailed("b");
        Assert.Empty(table.Recompute([]));

        table.FetchFailed("b");
        var change = Assert.Single(table.Recompute([]));
        Assert.Equal("link to b down (3 failed fetches)", change.After.Withdrawn);
        Assert.Null(table.Best(X, []));
        Assert.False(Assert.Single(table.PeerStates).Up);

        _time.Advance(_options.MaxRouteAge);
        table.Recompute([]);
        Assert.Empty(table.Routes);
    }

    [Fact]
    public void An_advertisement_older_than_MaxRouteAge_is_withdrawn()
    {
        var table = Table(B);
        table.Advertised("b", [new Advertisement(X, 100, 0)]);
        table.Recompute([]);

        _time.Advance(_options.MaxRouteAge + TimeSpan.FromSeconds(1));
        table.Recompute([]);

        Assert.StartsWith("advertisement of b older than", Only(table, X).Withdrawn, StringComparison.Ordinal);
    }

    [Fact]
    public void A_destination_a_peer_stops_advertising_is_withdrawn_as_such()
    {
        var table = Table(B);
        table.Advertised("b", [new Advertisement(X, 100, 0)]);
        table.Recompute([]);
        table.Advertised("b", []);
        table.Recompute([]);

        Assert.Equal("no longer advertised by b", Only(table, X).Withdrawn);
    }

    [Fact]
    public void A_flapping_peer_keeps_its_routes_until_failures_are_consecutive_and_gets_them_back_when_it_answers()
    {
        var table = Table(B);
        table.Advertised("b", [new Advertisement(X, 100, 0)]);
        table.Recompute([]);
        var since = Only(table, X).Since;

        for (var i = 0; i < 10; i++)
        {
            _time.Advance(_options.RefreshInterval);
            table.FetchFailed("b");
            table.FetchFailed("b");
            Assert.Empty(table.Recompute([]));
            table.Advertised("b", [new Advertisement(X, 100, 0)]);
            Assert.Empty(table.Recompute([]));
        }

        // The route's age runs on through the flapping: nothing about it changed.
        Assert.Equal(since, Only(table, X).Since);

        for (var i = 0; i < 3; i++)
        {
            table.FetchFailed("b");
        }

        Assert.False(Assert.Single(table.Recompute([])).After.IsLive);
        table.Advertised("b", [new Advertisement(X, 100, 0)]);
        var back = Assert.Single(table.Recompute([]));
        Assert.Equal((false, true), (back.Before!.IsLive, back.After.IsLive));
    }

    [Fact]
    public void Split_horizon_never_offers_a_peer_a_route_learned_from_it()
    {
        var table = Table(B, C);
        table.Advertised("b", [new Advertisement(X, 100, 0)]);
        table.Advertised("c", [new Advertisement(Y, 100, 0)]);
        table.Recompute([]);

        Assert.Equal([new Advertisement(Y, 110, 1)], table.AdvertiseTo(B.Uuid));
        Assert.Equal([new Advertisement(X, 110, 1)], table.AdvertiseTo(C.Uuid));
    }

    [Fact]
    public void A_route_over_MaxHops_is_dropped()
    {
        var table = Table(B);
        table.Advertised("b", [new Advertisement(X, 1, _options.MaxHops - 1), new Advertisement(Y, 1, _options.MaxHops)]);
        table.Recompute([]);

        Assert.Equal(_options.MaxHops, Only(table, X).Hops);
        Assert.DoesNotContain(table.Routes, r => r.Destination == Y);
    }

    [Fact]
    public void A_gateway_in_bypass_is_never_the_next_hop()
    {
        var table = Table(B, C);
        table.Advertised("b", [new Advertisement(X, 100, 0)]);
        table.Advertised("c", [new Advertisement(X, 500, 0)]);
        table.Recompute([]);

        Assert.Equal("b", table.Best(X, [])!.Via);
        Assert.Equal("c", table.Best(X, [B.Uuid])!.Via);
        Assert.Null(table.Best(X, [B.Uuid, C.Uuid]));
    }

    [Fact]
    public void A_clusters_nodes_at_other_sites_are_those_advertised_as_its_nodes_through_peers_not_in_bypass()
    {
        const string cluster = "ac1f5c3e-2b44-8d01-9a7e-0c3b5d6e7f80";
        const string z = "33333333-3333-4333-8333-333333333333";
        var lab = new PeerLink("lab", "dddddddd-dddd-4ddd-8ddd-dddddddddddd", 30, [z], [cluster]);
        var table = Table(B, lab);
        table.Advertised("b", [new Advertisement(X, 100, 0, [cluster]), new Advertisement(Y, 100, 0)]);
        table.Recompute([new LocalNode("44444444-4444-4444-8444-444444444444", 100, Live: true, [cluster])]);

        Assert.Equal([(X, "b", 110.0), (z, "lab", 30.0)], table.ThroughPeers(cluster, []).Select(r => (r.Destination, r.Via!, r.Cost)).OrderBy(r => r.Item1));
        Assert.Equal([z], table.ThroughPeers(cluster, [B.Uuid]).Select(r => r.Destination));
        Assert.Empty(table.ThroughPeers("ac000000-0000-8000-8000-000000000000", []));
        // The membership travels on: a third site learns it from this edge's advertisement.
        Assert.Equal([cluster], table.AdvertiseTo(C.Uuid).Single(a => a.Uuid == X).Clusters);
    }

    [Fact]
    public void A_git_annex_gateway_peer_reaches_its_configured_nodes_at_its_link_cost_and_one_hop_without_fetching()
    {
        var table = Table(new PeerLink("lab", "dddddddd-dddd-4ddd-8ddd-dddddddddddd", 30, [X]));
        table.Recompute([]);
        _time.Advance(TimeSpan.FromHours(1));
        table.Recompute([]);

        var route = Only(table, X);
        Assert.Equal(("lab", 1, 30.0, (string?)null), (route.Via, route.Hops, route.Cost, route.Withdrawn));
    }

    [Fact]
    public void A_git_annex_gateway_peer_whose_probes_fail_LinkFailures_times_in_a_row_has_its_nodes_withdrawn_until_it_answers_again()
    {
        var table = Table(new PeerLink("lab", "dddddddd-dddd-4ddd-8ddd-dddddddddddd", 30, [X]));
        table.Recompute([]);

        table.FetchFailed("lab");
        table.FetchFailed("lab");
        Assert.Empty(table.Recompute([]));

        table.FetchFailed("lab");
        var change = Assert.Single(table.Recompute([]));
        Assert.Equal("link to lab down (3 failed probes)", change.After.Withdrawn);
        Assert.Null(table.Best(X, []));
        Assert.False(Assert.Single(table.PeerStates).Up);

        table.Reached("lab");
        Assert.Equal("lab", Assert.Single(table.Recompute([])).After.Via);
        Assert.Equal(30.0, table.Best(X, [])!.Cost);
    }

    [Fact]
    public void In_a_triangle_a_withdrawn_node_counts_to_the_hop_limit_at_most_and_is_then_gone_everywhere()
    {
        // A, B and C peer with each other; X is C's node. Each round every edge fetches both peers' advertisements.
        var a = new PeerLink("a", "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa", 10);
        var edges = new Dictionary<PeerLink, RouteTable>
        {
            [a] = Table(B, C),
            [B] = Table(a, C),
            [C] = Table(a, B),
        };
        var local = new Dictionary<PeerLink, LocalNode[]> { [a] = [], [B] = [], [C] = [new LocalNode(X, 100, Live: true)] };

        void Round()
        {
            foreach (var (self, table) in edges)
            {
                table.Recompute(local[self]);
            }

            var adverts = edges.ToDictionary(e => e.Key, e => edges.Keys.Where(p => p != e.Key).ToDictionary(p => p, p => e.Value.AdvertiseTo(p.Uuid)));
            foreach (var (self, table) in edges)
            {
                foreach (var (peer, _) in edges.Where(e => e.Key != self))
                {
                    table.Advertised(peer.Name, adverts[peer][self]);
                }
            }
        }

        for (var i = 0; i < 3; i++)
        {
            Round();
        }

        Assert.Equal(("c", 1), (Only(edges[a], X).Via, Only(edges[a], X).Hops));

        local[C] = [new LocalNode(X, 100, Live: false)];
        var rounds = 0;
        while (edges.Values.Any(t => t.Best(X, []) is not null))
        {
            Round();
            Assert.All(edges.Values, t => Assert.True(t.Best(X, []) is not { } r || r.Hops <= _options.MaxHops));
            Assert.True(++rounds <= _options.MaxHops + 2, $"X still routed after {rounds} rounds");
        }

        Assert.All(edges.Values, t => Assert.False(Only(t, X).IsLive));
    }
}
