"""How much bf16 autocast speeds up training of a bare encoder on this CPU (docs/RESULTS.md,
"Training speed levers"): forward + backward + AdamW on a batch of 16 random sentences of 40
subwords, 2 threads, alternating float32 and bf16 autocast twice, 5 timed steps each.

    .venv/bin/python benches/encoder_bf16_probe.py models/all-MiniLM-L6-v2
    .venv/bin/python benches/encoder_bf16_probe.py models/all-mpnet-base-v2
"""
import time, torch, sys
from transformers import AutoModel
torch.set_num_threads(2)
name = sys.argv[1]
m = AutoModel.from_pretrained(name, add_pooling_layer=False)
m.train()
opt = torch.optim.AdamW(m.parameters(), lr=1e-5)
B, T = 16, 40
ids = torch.randint(1000, 20000, (B, T))
mask = torch.ones(B, T, dtype=torch.long)
def step(auto):
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=auto):
        out = m(input_ids=ids, attention_mask=mask).last_hidden_state
        loss = out.float().pow(2).mean()
    opt.zero_grad(); loss.backward(); opt.step()
for auto in [False, True, False, True]:
    step(auto)
    t = time.time(); n = 5
    for _ in range(n): step(auto)
    dt = (time.time() - t) / n
    print(f"{name} autocast={auto}: {dt*1000:.0f} ms/step, {B/dt:.1f} sentences/s", flush=True)
