"""Mean ± sd over seeds of each ablation variant, from the bundles `transference train
--ablation-steps` exported under RUN/ablations/<variant>-seed<N>/ (their manifests' metrics),
as the Markdown table of docs/evaluation.md.

    python3 scripts/ablation_table.py DATA/runs/digits
"""
import tomllib, glob, os, sys, statistics as st, collections
cols=[("img→aud","transfer.image_to_audio.accuracy"),("aud→img","transfer.audio_to_image.accuracy"),
("codes img→aud","transfer_bag_of_codes.image_to_audio.accuracy"),("codes aud→img","transfer_bag_of_codes.audio_to_image.accuracy"),
("zero-shot img","zero_shot.image.accuracy"),("zero-shot aud","zero_shot.audio.accuracy"),
("text→img P@10","retrieval.text_to_image.precision_at_10"),("same-digit codes","code_agreement.image_audio.same_class"),("other-digit codes","code_agreement.image_audio.other_class"),("top code agrees","code_agreement.image_audio.top_code_agree")]
rows=collections.defaultdict(list)
for d in sorted(glob.glob(os.path.join(sys.argv[1], 'ablations', '*', 'manifest.toml'))):
    name=os.path.basename(os.path.dirname(d)).rsplit('-seed',1)[0]
    m=tomllib.load(open(d,'rb'))
    metrics=m.get('metrics',{})
    if 'code_agreement.image_audio.same_class' in metrics: rows[name].append(metrics)
print("| variant | seeds | "+" | ".join(c for c,_ in cols)+" |")
print("|---|---|"+"---|"*len(cols))
for name,ms in rows.items():
    out=[]
    for c,k in cols:
        v=[x[k] for x in ms if k in x]
        scale=1 if 'top_code' in k else 100
        v=[x*scale for x in v]
        out.append(f"{st.mean(v):.1f} ± {st.stdev(v):.1f}" if len(v)>1 else (f"{v[0]:.1f}" if v else "-"))
    print(f"| {name.replace('_',' ')} | {len(ms)} | "+" | ".join(out)+" |")
