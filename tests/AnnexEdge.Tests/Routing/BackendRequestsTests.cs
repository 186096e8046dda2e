using AnnexEdge.Protocol;
using AnnexEdge.Routing;

namespace AnnexEdge.Tests.Routing;

public sealed class BackendRequestsTests
{
    private const string Key = "SHA256E-s11--0f343b0931126a20f133d67c2b018a3b0f343b0931126a20f133d67c2b018a3b.bin";
    private const string Client = "c1e00000-0000-4000-8000-000000000001";

    private static P2pRequest Request(P2pEndpoint endpoint) => new()
    {
        Uuid = "0d000000-0000-4000-8000-0000000000a1",
        Version = 4,
        Endpoint = endpoint,
        Key = Key,
        ClientUuid = Client,
    };

    [Fact]
    public void A_putoffset_goes_with_a_client_uuid_of_its_own_so_the_put_that_follows_never_meets_its_transfer_lock()
    {
        var first = BackendRequests.Uri("http://node", Request(P2pEndpoint.PutOffset)).Query;
        var second = BackendRequests.Uri("http://node", Request(P2pEndpoint.PutOffset)).Query;

        Assert.DoesNotContain(Client, first, StringComparison.Ordinal);
        Assert.NotEqual(first, second);
        Assert.Contains("key=" + Key, first, StringComparison.Ordinal);
    }

    [Fact]
    public void A_put_keeps_the_clients_uuid()
    {
        Assert.Contains("clientuuid=" + Client, BackendRequests.Uri("http://node", Request(P2pEndpoint.Put)).Query, StringComparison.Ordinal);
    }
}
