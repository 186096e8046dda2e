using System.Net;
using AnnexEdge.Forwarding.Download;
using AnnexEdge.IntegrationTests.Faults;
using AnnexEdge.Protocol;
using AnnexEdge.Routing;
using Microsoft.Extensions.Logging.Abstractions;

namespace AnnexEdge.Tests.Forwarding;

/// <summary>Which requests <see cref="KeyDownloadHandler"/> carries itself, and which it leaves to the inner handler.</summary>
public sealed class KeyDownloadHandlerTests
{
    private const string Uuid = "02e4e223-0b39-48fc-a031-e5a73d74ae92";
    private const string Key = "SHA256E-s6--5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03";

    private static P2pRequest Request(P2pEndpoint endpoint = P2pEndpoint.Key, int? version = 4) =>
        new() { Uuid = Uuid, Version = version, Endpoint = endpoint, Key = Key };

    private static HttpMessageInvoker Invoker(Recorder inner) =>
        new(new KeyDownloadHandler(
            inner,
            new BackendConnectionPool(TimeProvider.System),
            new KeyDownloadHandler.Settings(TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(20), false),
            TimeProvider.System,
            NullLogger<KeyDownloadHandler>.Instance));

    [Theory]
    [InlineData(null, "")]
    [InlineData(0, "")]
    [InlineData(4, "")]
    [InlineData(3, "/annex/base")]
    public async Task A_bodiless_get_of_a_key_the_edge_addressed_is_a_download(int? version, string basePath)
    {
        await using var backend = new RawHttpBackend(async (exchange, ct) =>
        {
            await exchange.Stream.WriteAsync(RawHttpBackend.Head("200 OK", "Content-Length: 0"), ct);
            await exchange.Stream.FlushAsync(ct);
            return true;
        });
        var inner = new Recorder();
        using var invoker = Invoker(inner);
        using var request = BackendRequests.Create(HttpMethod.Get, backend.Url + basePath, Request(version: version));

        using var response = await invoker.SendAsync(request, TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Null(inner.Seen);
        var versionPath = version is { } v ? $"/v{v}" : "";
        Assert.StartsWith($"GET {basePath}/git-annex/{Uuid}{versionPath}/key/{Key} HTTP/1.1\r\n", Assert.Single(backend.Exchanges).Head, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("GET", P2pEndpoint.CheckPresent)]
    [InlineData("GET", P2pEndpoint.LockContent)]
    [InlineData("GET", P2pEndpoint.Put)]
    [InlineData("POST", P2pEndpoint.Key)]
    [InlineData("HEAD", P2pEndpoint.Key)]
    [InlineData("PUT", P2pEndpoint.Key)]
    public async Task Other_requests_go_to_the_inner_handler(string method, P2pEndpoint endpoint)
    {
        using var request = BackendRequests.Create(new HttpMethod(method), "http://node.invalid", Request(endpoint));

        await AssertInnerHandlerSeesAsync(request);
    }

    [Fact]
    public async Task A_get_with_content_goes_to_the_inner_handler()
    {
        using var request = BackendRequests.Create(HttpMethod.Get, "http://node.invalid", Request(), new ByteArrayContent([1, 2, 3]));

        await AssertInnerHandlerSeesAsync(request);
    }

    [Fact]
    public async Task A_get_of_a_key_the_edge_did_not_address_goes_to_the_inner_handler()
    {
        // Its URI is not read for a key: only what BackendRequests addressed is known to be a download.
        using var request = new HttpRequestMessage(HttpMethod.Get, $"http://node.invalid/git-annex/{Uuid}/v4/key/{Key}");

        await AssertInnerHandlerSeesAsync(request);
    }

    private static async Task AssertInnerHandlerSeesAsync(HttpRequestMessage request)
    {
        var inner = new Recorder();
        using var invoker = Invoker(inner);

        using var response = await invoker.SendAsync(request, TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Same(request, inner.Seen);
    }

    private sealed class Recorder : HttpMessageHandler
    {
        public HttpRequestMessage? Seen { get; private set; }

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Seen = request;
            return Task.FromResult(new HttpResponseMessage(HttpStatusCode.Accepted));
        }
    }
}
