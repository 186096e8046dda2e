using System.Net;
using AnnexEdge.Forwarding.Download;
using Microsoft.Extensions.Logging.Abstractions;

namespace AnnexEdge.Tests.Forwarding;

public sealed class KeyDownloadHandlerTests
{
    private const string Uuid = "02e4e223-0b39-48fc-a031-e5a73d74ae92";
    private const string Key = "SHA256E-s6--5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03";

    [Theory]
    [InlineData($"http://node:9417/git-annex/{Uuid}/key/{Key}")]
    [InlineData($"http://node:9417/git-annex/{Uuid}/v4/key/{Key}")]
    [InlineData($"http://node:9417/git-annex/{Uuid}/v0/key/{Key}")]
    [InlineData($"https://node/annex/base/git-annex/{Uuid}/v3/key/{Key}")]
    [InlineData($"http://node/git-annex/{Uuid}/v4/key/{Key}?clientuuid=aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee&associatedfile=a%2Fb")]
    public void A_bodiless_get_of_a_key_is_a_download(string url)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, url);

        Assert.True(KeyDownloadRequest.Matches(request));
    }

    [Theory]
    [InlineData($"http://node/git-annex/{Uuid}/v4/key/{Key}", 0)]
    [InlineData($"http://node/git-annex/{Uuid}/v4/key/{Key}?clientuuid=c&offset=12345", 12345)]
    [InlineData($"http://node/git-annex/{Uuid}/v4/key/{Key}?offset=7&associatedfile=offset%3D9", 7)]
    public void The_offset_is_the_requests_offset_parameter_or_0(string url, long offset)
    {
        Assert.Equal(offset, KeyDownloadRequest.Offset(new Uri(url)));
    }

    [Theory]
    [InlineData($"http://node:9417/git-annex/{Uuid}/v4/key/{Key}", $"http://node:9417/git-annex/{Uuid}/v4/key/{Key}?offset=500")]
    [InlineData(
        $"http://node/base/git-annex/{Uuid}/v4/key/{Key}?clientuuid=c&offset=100&associatedfile=a%2Fb%26offset%3D1",
        $"http://node/base/git-annex/{Uuid}/v4/key/{Key}?clientuuid=c&associatedfile=a%2Fb%26offset%3D1&offset=500")]
    public void A_continuation_asks_from_the_new_offset_and_keeps_the_other_parameters(string url, string continued)
    {
        var uri = KeyDownloadRequest.WithOffset(new Uri(url), 500);

        Assert.Equal(continued, uri.AbsoluteUri);
        Assert.Equal(500, KeyDownloadRequest.Offset(uri));
        Assert.Equal(Key, KeyDownloadRequest.Key(uri));
    }

    [Theory]
    [InlineData("GET", $"http://node/git-annex/{Uuid}/v4/checkpresent?key={Key}")]
    [InlineData("GET", $"http://node/git-annex/{Uuid}/v4/lockcontent")]
    [InlineData("GET", $"http://node/git-annex/{Uuid}/v4/put/{Key}")]
    [InlineData("GET", $"http://node/git-annex/{Uuid}/v4/key")]
    [InlineData("GET", $"http://node/git-annex/{Uuid}/v4/key/{Key}/more")]
    [InlineData("GET", $"http://node/git-annex/{Uuid}/v4/extra/key/{Key}")]
    [InlineData("GET", $"http://node/other/{Uuid}/v4/key/{Key}")]
    [InlineData("POST", $"http://node/git-annex/{Uuid}/v4/key/{Key}")]
    [InlineData("HEAD", $"http://node/git-annex/{Uuid}/v4/key/{Key}")]
    [InlineData("PUT", $"http://node/git-annex/{Uuid}/v4/key/{Key}")]
    public void Other_requests_are_not_downloads(string method, string url)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), url);

        Assert.False(KeyDownloadRequest.Matches(request));
    }

    [Fact]
    public void A_get_with_content_is_not_a_download()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"http://node/git-annex/{Uuid}/v4/key/{Key}")
        {
            Content = new ByteArrayContent([1, 2, 3]),
        };

        Assert.False(KeyDownloadRequest.Matches(request));
    }

    [Fact]
    public void A_relative_or_non_http_uri_is_not_a_download()
    {
        using var relative = new HttpRequestMessage(HttpMethod.Get, new Uri($"/git-annex/{Uuid}/v4/key/{Key}", UriKind.Relative));
        using var ftp = new HttpRequestMessage(HttpMethod.Get, $"ftp://node/git-annex/{Uuid}/v4/key/{Key}");

        Assert.False(KeyDownloadRequest.Matches(relative));
        Assert.False(KeyDownloadRequest.Matches(ftp));
    }

    [Fact]
    public async Task Requests_other_than_downloads_go_to_the_inner_handler()
    {
        var inner = new Recorder();
        using var invoker = new HttpMessageInvoker(
            new KeyDownloadHandler(
                inner,
                new BackendConnectionPool(TimeProvider.System),
                new KeyDownloadHandler.Settings(TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(20), false),
                TimeProvider.System,
                NullLogger<KeyDownloadHandler>.Instance));
        using var request = new HttpRequestMessage(HttpMethod.Post, $"http://node.invalid/git-annex/{Uuid}/v4/checkpresent?key={Key}");

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
