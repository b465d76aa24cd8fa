#include "remote/remote_write.h"

namespace obsmon::remote {

Result<std::unique_ptr<RemoteWrite>> RemoteWrite::Start(std::vector<RemoteWriteConfig> remotes,
                                                        RemoteWriteOptions options) {
  std::unique_ptr<RemoteWrite> rw(new RemoteWrite());
  auto store = storage::RemoteCursorStore::Open(options.db_path);
  if (!store.ok()) return store.status();
  rw->store_ = std::move(store).value();
  std::vector<std::string> names;
  for (const auto& r : remotes) names.push_back(r.name);
  const TimestampMs start = options.clock->NowMs() - options.default_settle_ms;
  if (Status s = rw->store_->SetConfigured(names, start); !s.ok()) return s;
  for (auto& r : remotes) {
    auto reader = storage::Reader::Open(options.db_path);
    if (!reader.ok()) return reader.status();
    auto own_store = storage::RemoteCursorStore::Open(options.db_path);
    if (!own_store.ok()) return own_store.status();
    auto client = options.make_client ? options.make_client(r)
                                      : MakeHttpRemoteClient(r, options.version);
    if (!client) return Status::InvalidArgument("remote_write " + r.name + ": bad url " + r.url);
    SenderOptions so;
    so.settle_ms = r.queue.settle_delay_ms > 0 ? r.queue.settle_delay_ms : options.default_settle_ms;
    so.config = std::move(r);
    so.external_labels = options.external_labels;
    so.warn = options.warn;
    so.uncommitted_from = options.uncommitted_from;
    rw->senders_.push_back(std::make_unique<Sender>(*options.clock, std::move(so),
                                                    std::move(reader).value(),
                                                    std::move(own_store).value(),
                                                    std::move(client)));
  }
  for (auto& s : rw->senders_) s->Start();
  return rw;
}

RemoteWrite::~RemoteWrite() { Stop(); }

void RemoteWrite::Stop() {
  for (auto& s : senders_) s->Stop();
}

std::vector<RemoteWriteStats> RemoteWrite::Stats() const {
  std::vector<RemoteWriteStats> out;
  auto rows = store_->All();
  for (const auto& s : senders_) {
    RemoteWriteStats st;
    st.sender = s->Stats();
    if (rows.ok()) {
      for (const auto& row : *rows) {
        if (row.remote == st.sender.remote) st.dropped_retention = row.dropped_retention;
      }
    }
    out.push_back(std::move(st));
  }
  return out;
}

}  // namespace obsmon::remote
