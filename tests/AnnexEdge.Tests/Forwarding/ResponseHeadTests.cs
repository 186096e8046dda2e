using System.Net;
using System.Text;
using AnnexEdge.Forwarding.Download;

namespace AnnexEdge.Tests.Forwarding;

public sealed class ResponseHeadTests
{
    private static ResponseHead? Parse(string text, out int consumed, bool forHead = false) =>
        ResponseHead.TryParse(Encoding.Latin1.GetBytes(text), forHead, out consumed);

    private static ResponseHead Parse(string text) => Parse(text, out _) ?? throw new InvalidOperationException("incomplete head");

    [Theory]
    [InlineData("")]
    [InlineData("HTTP/1.1 200 OK")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r")]
    public void An_incomplete_head_is_not_parsed_yet(string text)
    {
        Assert.Null(Parse(text, out var consumed));
        Assert.Equal(0, consumed);
    }

    [Fact]
    public void The_head_ends_at_the_blank_line_and_the_body_is_left_alone()
    {
        const string head = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-git-annex-data-length: 5\r\n\r\n";
        var parsed = Parse(head + "hello", out var consumed);

        Assert.NotNull(parsed);
        Assert.Equal(head.Length, consumed);
        Assert.Equal(HttpStatusCode.OK, parsed.Status);
        Assert.Equal("OK", parsed.Reason);
        Assert.Equal(5, parsed.ContentLength);
        Assert.False(parsed.Chunked);
        Assert.False(parsed.HasNoBody);
        Assert.True(parsed.KeepAlive);
        Assert.Equal("5", parsed.Field("x-GIT-annex-data-length"));
    }

    [Theory]
    [InlineData("HTTP/1.1 404 Not Found", HttpStatusCode.NotFound, "Not Found")]
    [InlineData("HTTP/1.1 200", HttpStatusCode.OK, null)]
    [InlineData("HTTP/1.1 503 ", HttpStatusCode.ServiceUnavailable, null)]
    [InlineData("HTTP/1.0 401 Unauthorized here", HttpStatusCode.Unauthorized, "Unauthorized here")]
    public void The_status_line_gives_status_and_reason(string statusLine, HttpStatusCode status, string? reason)
    {
        var parsed = Parse(statusLine + "\r\nContent-Length: 0\r\n\r\n");

        Assert.Equal(status, parsed.Status);
        Assert.Equal(reason, parsed.Reason);
    }

    [Fact]
    public void Fields_keep_their_order_and_values_lose_surrounding_whitespace()
    {
        var parsed = Parse("HTTP/1.1 200 OK\r\nX-A:  one \t\r\nX-B:two\r\nX-A: three\r\nContent-Length: 0\r\n\r\n");

        KeyValuePair<string, string>[] expected = [new("X-A", "one"), new("X-B", "two"), new("X-A", "three")];
        Assert.Equal(expected, parsed.Fields);
    }

    [Fact]
    public void A_chunked_body_has_no_content_length()
    {
        var parsed = Parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n");

        Assert.True(parsed.Chunked);
        Assert.Equal(-1, parsed.ContentLength);
        Assert.False(parsed.HasNoBody);
        Assert.True(parsed.KeepAlive);
        Assert.DoesNotContain(parsed.Fields, f => f.Key == "Transfer-Encoding");
    }

    [Fact]
    public void Chunked_wins_over_a_content_length()
    {
        var parsed = Parse("HTTP/1.1 200 OK\r\nContent-Length: 10\r\nTransfer-Encoding: chunked\r\n\r\n");

        Assert.True(parsed.Chunked);
        Assert.Equal(-1, parsed.ContentLength);
    }

    [Fact]
    public void Repeated_equal_content_lengths_are_one_length()
    {
        var parsed = Parse("HTTP/1.1 200 OK\r\nContent-Length: 7\r\ncontent-length: 7\r\n\r\n");

        Assert.Equal(7, parsed.ContentLength);
        Assert.True(parsed.KeepAlive);
    }

    [Fact]
    public void A_body_without_length_or_chunking_runs_to_the_end_of_the_connection()
    {
        var parsed = Parse("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n");

        Assert.False(parsed.Chunked);
        Assert.Equal(-1, parsed.ContentLength);
        Assert.False(parsed.HasNoBody);
        Assert.False(parsed.KeepAlive);
    }

    [Theory]
    [InlineData("204 No Content")]
    [InlineData("304 Not Modified")]
    [InlineData("100 Continue")]
    [InlineData("103 Early Hints")]
    public void Some_statuses_never_have_a_body(string status)
    {
        var parsed = Parse($"HTTP/1.1 {status}\r\nTransfer-Encoding: chunked\r\n\r\n");

        Assert.True(parsed.HasNoBody);
        Assert.False(parsed.Chunked);
        Assert.True(parsed.KeepAlive);
    }

    [Fact]
    public void A_head_request_has_no_body_whatever_the_fields_say()
    {
        var parsed = Parse("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", out _, forHead: true);

        Assert.NotNull(parsed);
        Assert.True(parsed.HasNoBody);
        Assert.True(parsed.KeepAlive);
    }

    [Theory]
    [InlineData("Connection: close")]
    [InlineData("Connection: Keep-Alive, CLOSE")]
    [InlineData("Connection: upgrade,close")]
    public void Connection_close_ends_keep_alive(string field)
    {
        var parsed = Parse($"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n{field}\r\n\r\n");

        Assert.False(parsed.KeepAlive);
        Assert.DoesNotContain(parsed.Fields, f => f.Key == "Connection");
    }

    [Fact]
    public void Http_1_0_is_not_kept_alive_unless_it_asks()
    {
        Assert.False(Parse("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n").KeepAlive);

        var asked = Parse("HTTP/1.0 200 OK\r\nContent-Length: 1\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\n");
        Assert.True(asked.KeepAlive);
        Assert.Empty(asked.Fields);
    }

    [Theory]
    [InlineData("HTTP/2 200 OK")]
    [InlineData("HTTP/1.1 20 OK")]
    [InlineData("HTTP/1.1 2000 OK")]
    [InlineData("HTTP/1.1 abc OK")]
    [InlineData("HTTP/1.1 099 Low")]
    [InlineData("HTTP/1.1  200 OK")]
    [InlineData("HTTP/1.1 +20 OK")]
    [InlineData("ICY 200 OK")]
    [InlineData("http/1.1 200 OK")]
    public void A_malformed_status_line_is_an_invalid_response(string statusLine) =>
        AssertInvalid(statusLine + "\r\nContent-Length: 0\r\n\r\n");

    [Theory]
    [InlineData("NoColon")]
    [InlineData(": empty name")]
    [InlineData("Content-Length : 5")]
    [InlineData("Bad\tName: x")]
    [InlineData(" Folded: continuation")]
    [InlineData("Transfer-Encoding: gzip")]
    [InlineData("Transfer-Encoding: gzip, chunked")]
    [InlineData("Content-Length: -1")]
    [InlineData("Content-Length: 12x")]
    [InlineData("Content-Length: 1, 1")]
    [InlineData("Content-Length:")]
    public void A_malformed_or_unframeable_field_is_an_invalid_response(string field) =>
        AssertInvalid($"HTTP/1.1 200 OK\r\n{field}\r\n\r\n");

    [Fact]
    public void Conflicting_content_lengths_are_an_invalid_response() =>
        AssertInvalid("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n");

    [Fact]
    public void A_head_over_64_KiB_is_an_invalid_response()
    {
        var huge = "HTTP/1.1 200 OK\r\nX-Filler: " + new string('a', ResponseHead.MaxBytes);

        AssertInvalid(huge);
    }

    [Fact]
    public void A_head_just_under_64_KiB_without_its_end_is_still_incomplete()
    {
        var big = "HTTP/1.1 200 OK\r\nX-Filler: " + new string('a', ResponseHead.MaxBytes - 100);

        Assert.Null(Parse(big, out _));
    }

    private static void AssertInvalid(string text)
    {
        var e = Assert.Throws<HttpRequestException>(() => Parse(text, out _));
        Assert.Equal(HttpRequestError.InvalidResponse, e.HttpRequestError);
    }
}
