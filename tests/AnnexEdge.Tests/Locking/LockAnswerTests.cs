using System.Text;
using System.Text.Json;
using AnnexEdge.Locking;

namespace AnnexEdge.Tests.Locking;

public sealed class LockAnswerTests
{
    private static bool TryParse(string json, out LockAnswer answer) => LockAnswer.TryParse(Encoding.UTF8.GetBytes(json), out answer);

    [Theory]
    [InlineData("""{"locked":true,"lockid":"abc"}""", true, "abc")]
    [InlineData("""{"lockid":"abc","locked":true}""", true, "abc")]
    [InlineData("""{"locked":false}""", false, null)]
    [InlineData("""{"locked": false, "lockid": "x"}""", false, "x")]
    [InlineData(""" { "locked" : true , "lockid" : "a\nb" , "extra": [1] } """, true, "a\nb")]
    public void Answer_of_a_backend_is_read(string json, bool locked, string? lockId)
    {
        Assert.True(TryParse(json, out var answer));
        Assert.Equal(new LockAnswer(locked, lockId), answer);
    }

    [Theory]
    [InlineData("")]
    [InlineData(" ")]
    [InlineData("null")]
    [InlineData("true")]
    [InlineData("[]")]
    [InlineData("""[{"locked":true}]""")]
    [InlineData("{}")]
    [InlineData("""{"lockid":"abc"}""")]
    [InlineData("""{"locked":"true","lockid":"abc"}""")]
    [InlineData("""{"locked":1,"lockid":"abc"}""")]
    [InlineData("""{"locked":null}""")]
    [InlineData("""{"Locked":true}""")]
    [InlineData("""{"locked":true}""")]
    [InlineData("""{"locked":true,"lockid":""}""")]
    [InlineData("""{"locked":true,"lockid":null}""")]
    [InlineData("""{"locked":true,"lockid":5}""")]
    [InlineData("""{"locked":true,"lockid":["a"]}""")]
    [InlineData("{\"locked\":true,\"lockid\":\"abc\"")]
    [InlineData("""{"locked":true,}""")]
    [InlineData("""{"locked":true} trailing""")]
    [InlineData("not json")]
    public void Anything_else_is_not_an_answer(string json)
    {
        Assert.False(TryParse(json, out var answer));
        Assert.Equal(new LockAnswer(false, null), answer);
    }

    [Fact]
    public void Granted_lock_is_written_with_its_lockid()
    {
        var json = Encoding.UTF8.GetString(new LockAnswer(true, "ae1.x.y").ToJson());
        Assert.Equal("""{"locked":true,"lockid":"ae1.x.y"}""", json);
    }

    [Fact]
    public void Refused_lock_is_written_without_lockid()
    {
        Assert.Equal("""{"locked":false}""", Encoding.UTF8.GetString(new LockAnswer(false, null).ToJson()));
    }

    [Theory]
    [InlineData(true, "a\"b\\c\n")]
    [InlineData(false, null)]
    public void Written_answer_reads_back(bool locked, string? lockId)
    {
        var json = new LockAnswer(locked, lockId).ToJson();
        Assert.True(LockAnswer.TryParse(json, out var answer));
        Assert.Equal(new LockAnswer(locked, lockId), answer);
        using var doc = JsonDocument.Parse(json);
        Assert.Equal(lockId is null ? 1 : 2, doc.RootElement.EnumerateObject().Count());
    }
}
